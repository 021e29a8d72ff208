"""Subnetwork generators: what the search may add to the ensemble at each iteration.

A generator looks at the ensemble so far and proposes candidates, each a Keras model from
normalised images `[N, H, W, 1]` to logits `[N, classes]` with a complexity for the
objective. New kinds plug in by implementing `Generator.candidates`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import keras

    from ml.automl.ensemble import Member


@dataclass(frozen=True)
class SubnetworkSpec:
    """One candidate subnetwork: a name, its size, and how to build it."""

    name: str
    kind: str
    depth: int
    width: int
    build: Callable[[tuple[int, int], int, int], keras.Model]
    """`(image_shape, classes, seed) -> model` mapping `[N, H, W, 1]` in 0..1 to logits."""
    augmentation: str = "none"
    """Its family in `AUGMENTATIONS`."""
    learning_rate: float = 2e-3
    """AdamW's peak rate, decayed by a cosine over each training period."""
    body: str = ""
    """A CNN's family of layers (`CNN_BODIES`); empty for other kinds."""

    def restore(self, image_shape: tuple[int, int], classes: int, weights: list[Any]) -> keras.Model:
        """A model of this subnetwork holding `weights` (trained elsewhere, or in a model to let go of)."""
        model = self.build(image_shape, classes, 0)
        model.set_weights(weights)
        return model

    @property
    def complexity(self) -> float:
        """r(h) of the AdaNet objective: the square root of the depth, as adanet's simple_dnn used."""
        return math.sqrt(self.depth)


class Generator(Protocol):
    def candidates(self, members: Sequence[Member], iteration: int) -> list[SubnetworkSpec]:
        """Candidates for `iteration` (0-based), given the members already in the ensemble.

        The first iteration's are screened by successive halving (ml/automl/screen.py); the
        first of them is the one trained when the budget leaves no time for a screen.
        """
        ...


def normalise(image: Any, image_shape: tuple[int, int]) -> Any:
    """uint8 pixels `[N, H, W]` to what subnetworks take: `[N, H, W, 1]` in 0..1."""
    import keras

    x = keras.ops.cast(image, "float32") / 255.0
    return keras.ops.reshape(x, (-1, *image_shape, 1))


def _deepest(members: Sequence[Member], kind: str) -> tuple[int, int] | None:
    """(depth, width) of the most recent member of this kind, the one the next candidates grow from."""
    same = [m.spec for m in members if m.spec.kind == kind]
    return (same[-1].depth, same[-1].width) if same else None


@dataclass(frozen=True)
class DnnGenerator:
    """Fully connected subnetworks: the last DNN's depth, and one layer deeper (adanet's simple_dnn)."""

    width: int = 256
    initial_depth: int = 1
    dropout: float = 0.2

    def candidates(self, members: Sequence[Member], iteration: int) -> list[SubnetworkSpec]:
        depth, width = _deepest(members, "dnn") or (self.initial_depth, self.width)
        depths = sorted({depth, depth + 1}) if iteration else [depth]
        return [self._spec(d, width, iteration) for d in depths]

    def _spec(self, depth: int, width: int, iteration: int) -> SubnetworkSpec:
        dropout = self.dropout

        def build(image_shape: tuple[int, int], classes: int, seed: int) -> keras.Model:
            import keras

            x = inputs = keras.Input((*image_shape, 1))
            x = keras.layers.Flatten()(x)
            for i in range(depth):
                init = keras.initializers.HeNormal(seed=seed + i)
                x = keras.layers.Dense(width, activation="relu", kernel_initializer=init)(x)
                x = keras.layers.Dropout(dropout, seed=seed + i)(x)
            logits = keras.layers.Dense(classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
            return keras.Model(inputs, logits)

        return SubnetworkSpec(f"t{iteration}_dnn_{depth}x{width}", "dnn", depth, width, build)


@dataclass(frozen=True)
class Augmentation:
    """A family of random transforms, each image drawing its own."""

    rotation: float = 0.0
    """Degrees either way."""
    zoom: float = 0.0
    """Fraction of the size either way."""
    shift: float = 0.0
    """Fraction of the size either way."""
    flip: bool = False
    """Mirror left to right half of the images."""

    @property
    def active(self) -> bool:
        return bool(self.rotation or self.zoom or self.shift or self.flip)


AUGMENTATIONS: dict[str, Augmentation] = {
    "none": Augmentation(),
    "shift": Augmentation(shift=0.08),
    "flip": Augmentation(shift=0.08, flip=True),
    "affine": Augmentation(rotation=10.0, zoom=0.1, shift=0.08),
}
"""The augmentation families the search chooses from (what suits one image set ruins another:
a mirrored digit is another glyph, a mirrored shoe a shoe), from none to the strongest: `shift` suits any image
set; `flip` adds mirroring, for images whose class a mirror keeps (clothes, objects); `affine`
adds rotation and scaling, for handwriting (the strengths are MNIST's, bench/NOTES.md)."""


CNN_BODIES = ("plain", "vgg")
"""`plain`: a practitioner's CNN, each block one 3x3 convolution ("same" padding) and ReLU, then
2x2 max pooling, then dropout, a dense layer of `hidden` units, dropout and the logits (the
PyTorch peer's network in ../shared/peers/ at two blocks). `vgg`: each block two 3x3
convolutions, each with batch normalisation and ReLU, then 2x2 max pooling; then a
batch-normalised dense layer and dropout. On 2 cores the plain one takes about three steps
for each of the VGG one's (bench/NOTES.md)."""


@dataclass(frozen=True)
class CnnVariant:
    """What the first iteration's CNN candidates differ in: what matters on an unseen image set."""

    body: str
    augmentation: str
    filters: int
    learning_rate: float


CNN_VARIANTS = (
    CnnVariant("plain", "none", 32, 2e-3),
    CnnVariant("vgg", "shift", 32, 2e-3),
    CnnVariant("vgg", "flip", 32, 2e-3),
    CnnVariant("plain", "shift", 32, 2e-3),
    CnnVariant("vgg", "affine", 32, 2e-3),
    CnnVariant("vgg", "none", 32, 2e-3),
)
"""In the order the screen takes them when the budget cannot give all of them a period. The
first is the recipe a practitioner would write (the PyTorch peer's, bench/automl.py): it trains
alone when there is no time for a screen, and the search replaces it only with a candidate that
beats it on `valid`. Then the VGG network tuned on MNIST with each augmentation family, and the
plain one shifted; on 2 cores at 300 s the screen has room for the first three (bench/NOTES.md)."""


@dataclass(frozen=True)
class CnnGenerator:
    """Convolutional subnetworks of the bodies in `CNN_BODIES`, with a dense layer, dropout and logits.

    The first iteration proposes one candidate per variant; later iterations propose one, of the
    variant the last CNN kept, one block deeper, up to `max_blocks` (two blocks fill a 28-pixel
    image, so MNIST's later iterations add members of the same depth, each from its own
    initialisation and its own draw of the augmentation); a smaller image gets the blocks it
    has room for.

    How the dense layer, the augmentations and the rest were chosen, and what lost: bench/NOTES.md.
    """

    variants: tuple[CnnVariant, ...] = CNN_VARIANTS
    initial_blocks: int = 2
    max_blocks: int = 2
    hidden: int = 128
    """Units of the dense layer between the blocks and the logits; 0: none."""
    dropout: float = 0.4
    """The VGG body's, before the logits; the plain body's is `PLAIN_DROPOUT`, before and after the dense layer."""

    def candidates(self, members: Sequence[Member], iteration: int) -> list[SubnetworkSpec]:
        same = [m.spec for m in members if m.spec.kind == "cnn"]
        if not same:
            variants = self.variants if iteration == 0 else self.variants[:1]
            return [self._spec(self.initial_blocks, v, iteration) for v in variants]
        last = same[-1]
        variant = CnnVariant(last.body, last.augmentation, last.width, last.learning_rate)
        return [self._spec(min(last.depth + 1, self.max_blocks), variant, iteration)]

    def _spec(self, blocks: int, variant: CnnVariant, iteration: int) -> SubnetworkSpec:
        hidden, dropout, filters = self.hidden, self.dropout, variant.filters
        augmentation, plain = AUGMENTATIONS[variant.augmentation], variant.body == "plain"

        def build(image_shape: tuple[int, int], classes: int, seed: int) -> keras.Model:
            import keras

            from ml.automl.augment import RandomAffine

            x = inputs = keras.Input((*image_shape, 1))
            if augmentation.active:
                x = RandomAffine.of(augmentation, seed=seed)(x)
            size = min(image_shape)
            for b in range(_fitting_blocks(size, blocks, plain)):
                for c in range(1 if plain else 2):
                    if plain:  # Keras's default initialiser: He's, without batch normalisation, lost (bench/NOTES.md)
                        init = keras.initializers.GlorotUniform(seed=seed + 10 * b + c)
                        x = keras.layers.Conv2D(filters * 2**b, 3, padding="same", kernel_initializer=init)(x)
                    else:
                        init = keras.initializers.HeNormal(seed=seed + 10 * b + c)
                        x = keras.layers.Conv2D(filters * 2**b, 3, use_bias=False, kernel_initializer=init)(x)
                        x = keras.layers.BatchNormalization()(x)
                    x = keras.layers.ReLU()(x)
                x = keras.layers.MaxPooling2D()(x)
            x = keras.layers.Flatten()(x)
            if plain:
                x = keras.layers.Dropout(PLAIN_DROPOUT, seed=seed + 2)(x)
            if hidden:
                if plain:
                    init = keras.initializers.GlorotUniform(seed=seed + 1)
                    x = keras.layers.Dense(hidden, kernel_initializer=init)(x)
                else:
                    init = keras.initializers.HeNormal(seed=seed + 1)
                    x = keras.layers.Dense(hidden, use_bias=False, kernel_initializer=init)(x)
                    x = keras.layers.BatchNormalization()(x)
                x = keras.layers.ReLU()(x)
            x = keras.layers.Dropout(PLAIN_DROPOUT if plain else dropout, seed=seed)(x)
            logits = keras.layers.Dense(classes, kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
            return keras.Model(inputs, logits)

        name = f"t{iteration}_{'plaincnn' if plain else 'cnn'}_{blocks}x{filters}_{variant.augmentation}"
        if variant.learning_rate != SubnetworkSpec.learning_rate:
            name += f"_lr{variant.learning_rate:g}"
        return SubnetworkSpec(
            name, "cnn", blocks, filters, build, variant.augmentation, variant.learning_rate, variant.body
        )


PLAIN_DROPOUT = 0.25
"""The plain body's dropout, as the PyTorch peer has it."""


def _fitting_blocks(size: int, blocks: int, plain: bool = False) -> int:
    """How many of `blocks` an image `size` pixels wide leaves room for: a VGG block takes 4 pixels,
    then halves; a plain one only halves; neither leaves fewer than 2."""
    fitting = 0
    while fitting < blocks and size >= (4 if plain else 6):
        size, fitting = (size if plain else size - 4) // 2, fitting + 1
    return fitting


GENERATORS: dict[str, Callable[[], Generator]] = {"cnn": CnnGenerator, "dnn": DnnGenerator}
"""Every generator by the name `--generators` takes; the search uses all of them unless told otherwise."""
