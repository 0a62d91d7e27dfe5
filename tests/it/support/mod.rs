pub mod app;
pub mod db;
pub mod process;
pub mod sink;
pub mod smtp;
