//! The drivers on top of the pipeline: one run, a plan (fewest servers meeting the targets), a sweep.

pub mod plan;
pub mod plan_colocated;
pub mod plan_disagg;
pub mod run;
pub mod sweep;
