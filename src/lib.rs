//! fleetsim: a discrete-event simulator for sizing fleets of LLM inference servers.

pub mod engine;
