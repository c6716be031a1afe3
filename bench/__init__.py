"""The benchmark suite: the platform side by side with its peers (``python -m bench``)."""
