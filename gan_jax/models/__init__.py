"""Pure Flax modules. No IO, no optimisers, no data."""
