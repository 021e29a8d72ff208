"""Decoding `{"instances": [...]}` into a uint8 image batch, refusing anything else with a 4xx."""

from __future__ import annotations

import base64
import binascii
import io
from typing import Any

import numpy as np
import numpy.typing as npt
from errors import BadRequestError, PayloadTooLargeError


def decode(body: Any, image_shape: tuple[int, int], max_instances: int) -> npt.NDArray[np.uint8]:
    """`body["instances"]` as `uint8 [N, H, W]`; each is `{"image": pixels}` or `{"image_bytes": {"b64": PNG}}`."""
    if not isinstance(body, dict) or "instances" not in body:
        raise BadRequestError('the body must be a JSON object with "instances": [{"image": ...}, ...]')
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise BadRequestError('"instances" must be a non-empty list')
    if len(instances) > max_instances:
        raise PayloadTooLargeError(
            f"{len(instances)} instances; at most {max_instances} per request, send them in batches"
        )
    return np.stack([_image(i, instance, image_shape) for i, instance in enumerate(instances)])


def _image(index: int, instance: Any, shape: tuple[int, int]) -> npt.NDArray[np.uint8]:
    where = f"instances[{index}]"
    if isinstance(instance, dict) and set(instance) == {"image_bytes"}:
        return _png(where, instance["image_bytes"], shape)
    if not isinstance(instance, dict) or set(instance) != {"image"}:
        raise BadRequestError(f'{where} must be {{"image": pixels}} or {{"image_bytes": {{"b64": PNG}}}}')
    height, width = shape
    try:
        array = np.asarray(instance["image"])
    except ValueError:  # ragged nested lists
        array = np.empty(0)
    if array.ndim == 2 and array.shape[0] == height and array.shape[1] != width:
        raise BadRequestError(f"{where}.image has rows of other lengths than {width}; send {height}x{width} pixels")
    if array.shape not in ((height, width), (height * width,)):
        raise BadRequestError(f"{where}.image must be {height}x{width} nested lists or {height * width} values")
    if array.dtype.kind not in "iuf":  # bool, str and mixed values are not pixels
        raise BadRequestError(f"{where}.image holds values that are not numbers; pixels are numbers 0..255")
    if not np.isfinite(array).all():
        raise BadRequestError(f"{where}.image holds NaN or infinite values; pixels are numbers 0..255")
    if array.min() < 0 or array.max() > 255:
        raise BadRequestError(f"{where}.image has values outside 0..255 (raw pixel values, not normalised)")
    pixels: npt.NDArray[np.uint8] = np.rint(array).astype(np.uint8).reshape(shape)
    return pixels


def _png(where: str, value: Any, shape: tuple[int, int]) -> npt.NDArray[np.uint8]:
    from PIL import Image, UnidentifiedImageError

    if not isinstance(value, dict) or not isinstance(value.get("b64"), str):
        raise BadRequestError(f'{where}.image_bytes must be {{"b64": "<base64 PNG>"}}')
    try:
        data = base64.b64decode(value["b64"], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise BadRequestError(f"{where}.image_bytes is a {image.format} image; send a PNG")
            pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise BadRequestError(f"{where}.image_bytes.b64 is not a base64-encoded PNG") from None
    if pixels.shape != shape:
        raise BadRequestError(f"{where}.image_bytes is {pixels.shape[1]}x{pixels.shape[0]}; send {shape[1]}x{shape[0]}")
    return pixels


def not_json_constant(raw: bytes, position: int) -> BadRequestError | None:
    """The error for NaN or Infinity where a parser stopped at `position`: they are not JSON, say so."""
    for name in ("NaN", "Infinity", "-Infinity"):
        if raw.startswith(name.encode(), position):
            return BadRequestError(f"the body holds {name}, which is not JSON; pixels are numbers 0..255")
    return None
