"""The run journal: what each row asked of Kartra and what came of it, crash-safe."""
