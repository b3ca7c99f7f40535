"""What a run remembers between attempts: the journal of paid LLM results, the incremental plan and checkpoints."""
