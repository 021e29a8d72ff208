"""A client for the prediction endpoint, compatible with the 2019 pipeline's `InferAPI`.

from ml.client import InferAPI
api = InferAPI("http://127.0.0.1:8080")
api.get_model_meta()                  # {"name": ..., "defaultVersion": {"name": ...}}
api.predict(images, batch_size=100)   # {"class_ids": [...], "model_version": "3"}
"""

from ml.client.infer import InferAPI, PredictionError

__all__ = ["InferAPI", "PredictionError"]
