//! What a run, a plan and a sweep show and write: the figures described once
//! ([`figures`]), one exporter per format ([`export`]: terminal table, JSON, CSV, HTML) and
//! the results folder ([`results`]).

pub mod export;
pub mod figures;
pub mod html;
pub mod pages;
pub mod results;
pub mod sweep;
pub mod table;
