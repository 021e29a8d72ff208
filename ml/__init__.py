"""The MNIST pipeline's code: environments, schemas, data, training, registry, serving."""
