"""MNIST (or any IDX image-classification set) into BigQuery, and back into numpy with its lineage.

from ml.data import read_table
data = read_table(Context.from_environ("local"), "train")
data.images, data.labels, data.keys, data.lineage
"""

from ml.data.images import ImageSet
from ml.data.reader import Dataset, read_table

__all__ = ["Dataset", "ImageSet", "read_table"]
