"""The stages of a language run, one sub-package each, in the order a row passes through them.

source -> filter -> llm -> state -> format -> publish; coverage reads what publish wrote.
Each holds plain functions; `flows/` wraps them in Prefect tasks and flows.
"""
