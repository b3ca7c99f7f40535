"""Stages 4-6: generate an answer, check its language and judge both answers, streaming, on any OpenAI-compatible server."""
