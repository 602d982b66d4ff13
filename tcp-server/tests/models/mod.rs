//! One test, both models: `both_models!(name, ...)` turns each `fn name(model: Model)` of
//! the test file into two tests, `thread_model::name` and `poll_model::name`, so that every tcp-server
//! test runs against `--model thread` and `--model poll` and a failure says which.
//! Attributes written before a name (`#[cfg_attr(wine, ignore = "...")]`) go on both.

#[macro_export]
macro_rules! both_models {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        mod thread_model {
            $( $(#[$attr])* #[test] fn $name() { super::$name(tcp_server::Model::Thread) } )*
        }
        mod poll_model {
            $( $(#[$attr])* #[test] fn $name() { super::$name(tcp_server::Model::Poll) } )*
        }
    };
}
