"""Output writers: ParaView series, metrics CSV, run manifest, checkpoints."""
