"""Domain types, units and errors shared by every layer. Imports nothing else of peergrid."""
