"""MNIST (or any IDX image-classification set) into BigQuery, and back into numpy with its lineage.

from ml.data import read_table
data = read_table(get_environment("local"), "train")
data.images, data.labels, data.keys, data.lineage
"""

from ml.data.images import ImageSet
from ml.data.reader import Dataset, Lineage, read_table

__all__ = ["Dataset", "ImageSet", "Lineage", "read_table"]
