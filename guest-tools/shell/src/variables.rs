//! The shell's variables: strings and indexed arrays, the positional
//! parameters (`$1`, `$@`), and the scopes `local` opens in a function.
//!
//! As in bash, a string variable is also an array of one element (`$x` is
//! `${x[0]}`), `local` hides a variable until the function returns (the
//! functions it calls see the local one: scopes are dynamic), and `unset`
//! removes the innermost.

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
enum Value {
    String(String),
    Indexed(BTreeMap<i64, String>),
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
        }
    }

    /// Sets a variable (an array's first element).
    pub fn set(&mut self, name: &str, value: String) {
        match self.values.get_mut(name) {
            Some(Value::Indexed(elements)) => {
                elements.insert(0, value);
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

    /// Element `index` (negative: from the end) of an array or string.
    pub fn element(&self, name: &str, index: i64) -> Option<String> {
        match self.values.get(name)? {
            Value::String(value) => (index == 0 || index == -1).then(|| value.clone()),
            Value::Indexed(elements) => {
                let index = if index < 0 { elements.keys().next_back()? + 1 + index } else { index };
                elements.get(&index).cloned()
            }
        }
    }

    /// Sets element `index` (negative: from the end), making the variable
    /// an array.
    pub fn set_element(&mut self, name: &str, index: i64, value: String) -> Result<(), String> {
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

    /// Removes element `index`.
    pub fn remove_element(&mut self, name: &str, index: i64) {
        match self.values.get_mut(name) {
            Some(Value::Indexed(elements)) => {
                elements.remove(&index);
            }
            Some(Value::String(_)) if index == 0 => {
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
        }
    }

    /// Every index in use, in order.
    pub fn indices(&self, name: &str) -> Vec<i64> {
        match self.values.get(name) {
            None => Vec::new(),
            Some(Value::String(_)) => vec![0],
            Some(Value::Indexed(elements)) => elements.keys().copied().collect(),
        }
    }

    /// Replaces a variable with an array of `values` (`a=(x y z)`).
    pub fn set_array(&mut self, name: &str, values: Vec<(Option<i64>, String)>) {
        self.values.insert(name.to_string(), Value::Indexed(BTreeMap::new()));
        self.append_array(name, values);
    }

    /// Appends to an array (`a+=(x y)`), each value after the last index
    /// unless it names its own (`[5]=x`).
    pub fn append_array(&mut self, name: &str, values: Vec<(Option<i64>, String)>) {
        let elements = self.indexed(name);
        let mut next = elements.keys().next_back().map_or(0, |last| last + 1);
        for (index, value) in values {
            let index = index.unwrap_or(next);
            elements.insert(index, value);
            next = index + 1;
        }
    }

    /// The variable as an array, converting a string to its first element.
    fn indexed(&mut self, name: &str) -> &mut BTreeMap<i64, String> {
        let value = self.values.entry(name.to_string()).or_insert_with(|| Value::Indexed(BTreeMap::new()));
        if let Value::String(text) = value {
            *value = Value::Indexed(BTreeMap::from([(0, std::mem::take(text))]));
        }
        match value {
            Value::Indexed(elements) => elements,
            Value::String(_) => unreachable!("converted above"),
        }
    }

    /// Names of the string variables with their values (for `env`, `set`).
    pub fn strings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().filter_map(|(name, value)| match value {
            Value::String(text) => Some((name.as_str(), text.as_str())),
            Value::Indexed(_) => None,
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
