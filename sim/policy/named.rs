//! Named factories: policies a user registers by name, each run building a fresh one.

use std::collections::BTreeMap;
use std::fmt;

/// Makes a fresh policy of type `T` (a trait object); each run, or each service in a run, gets its
/// own, with empty memory.
pub type Factory<T> = Box<dyn Fn() -> Box<T> + Send + Sync>;

/// Factories by name, sorted by name.
pub struct NamedFactories<T: ?Sized> {
    factories: BTreeMap<String, Factory<T>>,
}

impl<T: ?Sized> Default for NamedFactories<T> {
    fn default() -> Self {
        NamedFactories {
            factories: BTreeMap::new(),
        }
    }
}

impl<T: ?Sized> fmt::Debug for NamedFactories<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.factories.keys()).finish()
    }
}

impl<T: ?Sized> NamedFactories<T> {
    /// Registers (or replaces) `factory` under `name`.
    pub fn register(&mut self, name: &str, factory: Factory<T>) {
        self.factories.insert(name.to_string(), factory);
    }

    /// Every registered name, sorted (for "valid names" messages).
    pub fn names(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.factories.is_empty()
    }

    /// True when a factory is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.factories.contains_key(name)
    }

    /// A fresh policy from the factory registered under `name`, if any.
    pub fn build(&self, name: &str) -> Option<Box<T>> {
        self.factories.get(name).map(|factory| factory())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    trait Greeter {
        fn greet(&self) -> String;
    }

    struct Hello(&'static str);

    impl Greeter for Hello {
        fn greet(&self) -> String {
            format!("hello {}", self.0)
        }
    }

    #[test]
    fn builds_a_fresh_one_by_name_and_replaces_on_register() {
        let mut named: NamedFactories<dyn Greeter> = NamedFactories::default();
        assert!(named.is_empty() && named.build("a").is_none());
        named.register("b", Box::new(|| Box::new(Hello("b"))));
        named.register("a", Box::new(|| Box::new(Hello("a"))));
        named.register("a", Box::new(|| Box::new(Hello("again"))));
        assert_eq!(named.names(), ["a", "b"]);
        assert!(named.contains("b") && !named.contains("c"));
        assert_eq!(named.build("a").unwrap().greet(), "hello again");
        assert_eq!(format!("{named:?}"), r#"["a", "b"]"#);
    }
}
