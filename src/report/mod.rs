//! What a run, a plan and a sweep show and write: the figures described once
//! ([`figures`]), one exporter per format ([`export`]: terminal table, JSON, CSV, HTML) and
//! the results folder ([`results`]), over the documents the drivers fill: the typed run
//! summary ([`summary`]) and the run, plan and sweep outcomes ([`outcome`]).

pub mod export;
pub mod figures;
pub mod html;
pub mod outcome;
pub mod pages;
pub mod results;
pub mod summary;
pub mod sweep;
pub mod table;
