"""Grouping: encode cases to integer ids, run the kernel (or the reference interpreter), build results."""
