//! What a run shows and writes: the terminal table, `summary.json`, `summary.csv` and the
//! results folder.

pub mod html;
pub mod pages;
pub mod results;
pub mod table;
