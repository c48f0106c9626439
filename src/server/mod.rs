//! Server models: the generic queueing server and the LLM inference server.

pub mod llm;
pub mod queue;
