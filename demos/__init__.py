"""rlft.demos: recording expert demonstrations and reading/writing datasets."""
