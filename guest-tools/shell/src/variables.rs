//! The shell's variables: strings, indexed and associative arrays, the
//! positional parameters (`$1`, `$@`), and the scopes `local` opens in a
//! function.
//!
//! As in bash, a string variable is also an array of one element (`$x` is
//! `${x[0]}`; of an associative array, `${x[0]}` is the key "0"), `local` hides a variable until the function returns (the
//! functions it calls see the local one: scopes are dynamic), and `unset`
//! removes the innermost.

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Value {
    String(String),
    Indexed(BTreeMap<i64, String>),
    /// `declare -A`. Keys list in sorted order (bash's is its hash order,
    /// which no script can rely on).
    Associative(BTreeMap<String, String>),
}

/// An array subscript: a number for an indexed array, a string for an
/// associative one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Index(i64),
    Name(String),
}

impl Key {
    /// The key as an associative array holds it (`m[1]` is the key "1").
    fn name(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Key::Name(name) => name.into(),
            Key::Index(index) => index.to_string().into(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Variables {
    values: BTreeMap<String, Value>,
    /// `$1`, `$2`...: the script's, or those of the function running.
    pub positional: Vec<String>,
    /// For each function running, innermost last: what its `local`s hid.
    frames: Vec<Vec<(String, Option<Value>)>>,
}

impl Variables {
    /// A variable's value (an array's first element), or `None` if unset.
    pub fn get(&self, name: &str) -> Option<String> {
        match self.values.get(name)? {
            Value::String(value) => Some(value.clone()),
            Value::Indexed(elements) => elements.get(&0).cloned(),
            Value::Associative(entries) => entries.get("0").cloned(),
        }
    }

    /// Sets a variable (an array's first element).
    pub fn set(&mut self, name: &str, value: String) {
        match self.values.get_mut(name) {
            Some(Value::Indexed(elements)) => {
                elements.insert(0, value);
            }
            Some(Value::Associative(entries)) => {
                entries.insert("0".into(), value);
            }
            _ => {
                self.values.insert(name.to_string(), Value::String(value));
            }
        }
    }

    pub fn remove(&mut self, name: &str) {
        self.values.remove(name);
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Whether `name` is an associative array, whose subscripts are strings.
    pub fn is_associative(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Associative(_)))
    }

    /// Makes `name` an associative array (`declare -A`): a string becomes
    /// its key "0"; an indexed array cannot be turned into one.
    pub fn make_associative(&mut self, name: &str) -> Result<(), String> {
        let entries = match self.values.remove(name) {
            None => BTreeMap::new(),
            Some(Value::String(text)) => BTreeMap::from([("0".to_string(), text)]),
            Some(Value::Associative(entries)) => entries,
            Some(indexed @ Value::Indexed(_)) => {
                self.values.insert(name.to_string(), indexed);
                return Err(format!("{name}: cannot convert indexed to associative array"));
            }
        };
        self.values.insert(name.to_string(), Value::Associative(entries));
        Ok(())
    }

    /// The element at `key`.
    pub fn element(&self, name: &str, key: &Key) -> Option<String> {
        match (self.values.get(name)?, key) {
            (Value::Associative(entries), key) => entries.get(key.name().as_ref()).cloned(),
            (_, Key::Name(_)) => None,
            (Value::String(value), Key::Index(index)) => (*index == 0 || *index == -1).then(|| value.clone()),
            (Value::Indexed(elements), Key::Index(index)) => {
                let index = if *index < 0 { elements.keys().next_back()? + 1 + index } else { *index };
                elements.get(&index).cloned()
            }
        }
    }

    /// Sets the element at `key`, making the variable an array.
    pub fn set_element(&mut self, name: &str, key: &Key, value: String) -> Result<(), String> {
        if let Some(Value::Associative(entries)) = self.values.get_mut(name) {
            entries.insert(key.name().into_owned(), value);
            return Ok(());
        }
        let Key::Index(index) = *key else { return Err(format!("{name}: not an associative array")) };
        self.set_index(name, index, value)
    }

    /// Sets element `index` (negative: from the end) of an indexed array.
    fn set_index(&mut self, name: &str, index: i64, value: String) -> Result<(), String> {
        let elements = self.indexed(name);
        let index = if index < 0 {
            let last = elements.keys().next_back().copied().unwrap_or(-1);
            let index = last + 1 + index;
            if index < 0 {
                return Err(format!("{name}[{}]: bad array subscript", index - last - 1));
            }
            index
        } else {
            index
        };
        elements.insert(index, value);
        Ok(())
    }

    /// Removes the element at `key`.
    pub fn remove_element(&mut self, name: &str, key: &Key) {
        match (self.values.get_mut(name), key) {
            (Some(Value::Indexed(elements)), Key::Index(index)) => {
                elements.remove(index);
            }
            (Some(Value::Associative(entries)), key) => {
                entries.remove(key.name().as_ref());
            }
            (Some(Value::String(_)), Key::Index(0)) => {
                self.values.remove(name);
            }
            _ => {}
        }
    }

    /// Every element, in index order (a string is one; unset is none).
    pub fn elements(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            None => Vec::new(),
            Some(Value::String(value)) => vec![value.clone()],
            Some(Value::Indexed(elements)) => elements.values().cloned().collect(),
            Some(Value::Associative(entries)) => entries.values().cloned().collect(),
        }
    }

    /// Every index or key in use, in order (`${!a[@]}`).
    pub fn keys(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            None => Vec::new(),
            Some(Value::String(_)) => vec!["0".into()],
            Some(Value::Indexed(elements)) => elements.keys().map(i64::to_string).collect(),
            Some(Value::Associative(entries)) => entries.keys().cloned().collect(),
        }
    }

    /// Replaces a variable with the indexed array `values` (what `read -a`,
    /// `mapfile` and the shell's own arrays make).
    pub fn set_list(&mut self, name: &str, values: Vec<String>) {
        self.values.insert(name.to_string(), Value::Indexed((0..).zip(values).collect()));
    }

    /// Replaces a variable with an array of `values` (`a=(x y z)`); an
    /// associative array stays one.
    pub fn set_array(&mut self, name: &str, values: Vec<(Option<Key>, String)>) -> Result<(), String> {
        let emptied = if self.is_associative(name) {
            Value::Associative(BTreeMap::new())
        } else {
            Value::Indexed(BTreeMap::new())
        };
        self.values.insert(name.to_string(), emptied);
        self.append_array(name, values)
    }

    /// Appends to an array (`a+=(x y)`): to an indexed one each value after
    /// the last index unless it names its own (`[5]=x`); to an associative
    /// one `[key]=value` pairs, or (as bash 5.1) keys and values in turn.
    pub fn append_array(&mut self, name: &str, values: Vec<(Option<Key>, String)>) -> Result<(), String> {
        if let Some(Value::Associative(entries)) = self.values.get_mut(name) {
            let mut pending: Option<String> = None;
            for (key, value) in values {
                match (key, pending.take()) {
                    (Some(key), None) => drop(entries.insert(key.name().into_owned(), value)),
                    (None, None) => pending = Some(value),
                    (None, Some(key)) => drop(entries.insert(key, value)),
                    (Some(_), Some(_)) => return Err(format!("{name}: a key without a value in the list")),
                }
            }
            if let Some(key) = pending {
                entries.insert(key, String::new());
            }
            return Ok(());
        }
        let elements = self.indexed(name);
        let mut next = elements.keys().next_back().map_or(0, |last| last + 1);
        for (key, value) in values {
            let index = match key {
                None => next,
                Some(Key::Index(index)) => index,
                Some(Key::Name(_)) => return Err(format!("{name}: not an associative array")),
            };
            elements.insert(index, value);
            next = index + 1;
        }
        Ok(())
    }

    /// The variable as an array, converting a string to its first element.
    fn indexed(&mut self, name: &str) -> &mut BTreeMap<i64, String> {
        let value = self.values.entry(name.to_string()).or_insert_with(|| Value::Indexed(BTreeMap::new()));
        if let Value::String(text) = value {
            *value = Value::Indexed(BTreeMap::from([(0, std::mem::take(text))]));
        }
        match value {
            Value::Indexed(elements) => elements,
            Value::String(_) | Value::Associative(_) => unreachable!("converted above, or never asked of one"),
        }
    }

    /// Names of the string variables with their values (for `env`, `set`).
    pub fn strings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().filter_map(|(name, value)| match value {
            Value::String(text) => Some((name.as_str(), text.as_str())),
            Value::Indexed(_) | Value::Associative(_) => None,
        })
    }

    /// Enters a function called with `arguments`; returns the caller's
    /// positional parameters, to give back to [`Variables::leave`].
    pub fn enter(&mut self, arguments: Vec<String>) -> Vec<String> {
        self.frames.push(Vec::new());
        std::mem::replace(&mut self.positional, arguments)
    }

    /// Leaves the innermost function: its locals are gone, what they hid
    /// is back, and so are the caller's positional parameters.
    pub fn leave(&mut self, positional: Vec<String>) {
        if let Some(frame) = self.frames.pop() {
            for (name, hidden) in frame.into_iter().rev() {
                match hidden {
                    Some(value) => self.values.insert(name, value),
                    None => self.values.remove(&name),
                };
            }
        }
        self.positional = positional;
    }

    /// Makes `name` local to the running function (unset until assigned,
    /// as bash has it); false outside a function.
    pub fn make_local(&mut self, name: &str) -> bool {
        let Some(frame) = self.frames.last_mut() else { return false };
        if !frame.iter().any(|(hidden, _)| hidden == name) {
            frame.push((name.to_string(), self.values.remove(name)));
        }
        true
    }

    /// Whether a function is running.
    pub fn in_function(&self) -> bool {
        !self.frames.is_empty()
    }
}
