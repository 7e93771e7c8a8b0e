"""The edges: batch file drops in and out, the ClickHouse sink, institution client helpers."""
