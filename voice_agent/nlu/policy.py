"""Dialogue policy: what the agent says and does after an understood caller turn.

The mechanics live in voice_agent/agent/ and read the company's agent folder; these names stay
importable here for the pipeline and tools written against them.
"""

from voice_agent.agent.context import DialogueContext
from voice_agent.agent.policy import DialoguePolicy
from voice_agent.agent.reply import LONG_SENTENCE, Reply, speech_chunks, split_sentences

__all__ = ["LONG_SENTENCE", "DialogueContext", "DialoguePolicy", "Reply", "speech_chunks",
           "split_sentences"]
