//! Pure, event-free timing model of LLM inference on GPUs.
//!
//! * [`hardware`]: GPU presets. [`model`]: transformer presets, weight and KV sizes.
//! * [`roofline`]: the shape of one forward pass and the breakdown of its time.
//! * [`deployment`]: a model on `TP` GPUs — memory admission, KV capacity, step time.
//! * [`stack`]: serving-engine profiles (`vllm`, `vllm-2023`, `trt-llm`).
//! * [`components`]: the step-time model built from measured [`kernels`], [`collective`]s and
//!   the stack's host and attention costs.
//! * [`calibration`]: every end-to-end A100 measurement we calibrate on and how well the
//!   model, run with each engine's stack, reproduces it.
//!
//! Nothing here knows about simulated time or events; the batching scheduler calls
//! [`Deployment::step_time_s`] once per iteration.

#![deny(missing_docs)]

pub mod calibration;
pub mod collective;
pub mod components;
pub mod deployment;
pub mod hardware;
pub mod kernels;
pub mod model;
pub mod roofline;
pub mod stack;

pub use calibration::{
    CalKind, CalPoint, CalRow, calibrate_default, calibrate_table, calibration_points,
    render_calibration_text, typical_step_time_error,
};
pub use collective::GpuArch;
pub use deployment::{
    CachedStepCosts, DEFAULT_ACTIVATION_RESERVE_BYTES, DEFAULT_COMPUTE_MEMORY_OVERLAP, DecodeFixed,
    DecodeStep, Deployment, DeploymentError, Efficiency, KV_BLOCK_TOKENS, StepCosts, ToStepCosts,
};
pub use hardware::{GPU_PRESETS, Gpu, gpu_preset};
pub use model::{MODEL_PRESETS, Model, model_preset};
pub use roofline::{Bound, RooflineTerm, StepBreakdown, StepShape};
pub use stack::{DEFAULT_STACK, STACK_PRESETS, StackProfile, stack_preset};
