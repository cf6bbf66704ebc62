"""DRG/DIP payment: city tables, policies, vectorized pricing."""
