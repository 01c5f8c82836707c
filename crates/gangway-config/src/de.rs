//! Deserializing the model types whose TOML tables mix keys of two Rust types (a server's name
//! and address with its options; a rule's action with its condition).
//!
//! Serde's `flatten` would do this but turns off `deny_unknown_fields` (serde-rs/serde#2283),
//! so a misspelled key (`unles = "..."`) would vanish and change what the rule does. Instead
//! every key is checked against the known ones as it is read (so the error carries the key's
//! line), and the keys of the inner type are collected and deserialized by it, with its own
//! `deny_unknown_fields`.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::address::ServerAddress;
use crate::model::{
    Balance, HttpRequestAction, HttpRequestRule, HttpResponseAction, HttpResponseRule,
    RuleCondition, Server, ServerOptions, SourceLine,
};

/// The keys of a derived `Deserialize` struct: serde hands them to
/// [`Deserializer::deserialize_struct`], which this deserializer records and then fails.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields = None;
    let _ = T::deserialize(FieldsOf(&mut fields));
    fields.unwrap_or(&[])
}

struct FieldsOf<'a>(&'a mut Option<&'static [&'static str]>);

#[derive(Debug)]
struct Introspected;

impl fmt::Display for Introspected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fields introspected")
    }
}

impl std::error::Error for Introspected {}

impl de::Error for Introspected {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Introspected
    }
}

impl<'de> Deserializer<'de> for FieldsOf<'_> {
    type Error = Introspected;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Introspected> {
        Err(Introspected)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Introspected> {
        *self.0 = Some(fields);
        Err(Introspected)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// A map key that must be one of `known`; anything else is serde's "unknown field" error,
/// raised while the key is read so that TOML gives it the key's position.
struct KnownKey<'k>(&'k [&'static str]);

impl<'de> DeserializeSeed<'de> for KnownKey<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        let key = String::deserialize(deserializer)?;
        if self.0.contains(&key.as_str()) {
            Ok(key)
        } else {
            Err(unknown_key(&key, self.0))
        }
    }
}

/// Serde's `deny_unknown_fields` message, for a list of keys that is not `'static`.
fn unknown_key<E: de::Error>(key: &str, known: &[&str]) -> E {
    let mut expected = String::new();
    for (index, name) in known.iter().enumerate() {
        if index > 0 {
            expected.push_str(", ");
        }
        expected.push('`');
        expected.push_str(name);
        expected.push('`');
    }
    E::custom(format_args!(
        "unknown field `{key}`, expected one of {expected}"
    ))
}

/// Deserializes the collected keys as `T`, keeping the message of any error (the caller's
/// deserializer gives it the table's position).
fn from_table<T: for<'de> Deserialize<'de>, E: de::Error>(table: toml::Table) -> Result<T, E> {
    T::deserialize(toml::Value::Table(table)).map_err(|error| E::custom(error.message()))
}

/// The keys of a server table: `name`, `address` and every server option.
fn server_keys() -> Vec<&'static str> {
    let mut keys = vec!["name", "address"];
    keys.extend_from_slice(struct_fields::<ServerOptions>());
    keys
}

impl<'de> Deserialize<'de> for Server {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ServerVisitor)
    }
}

struct ServerVisitor;

impl<'de> Visitor<'de> for ServerVisitor {
    type Value = Server;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a server table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Server, A::Error> {
        let keys = server_keys();
        let mut name = None;
        let mut address = None;
        let mut options = toml::Table::new();
        while let Some(key) = map.next_key_seed(KnownKey(&keys))? {
            match key.as_str() {
                "name" => name = Some(map.next_value::<String>()?),
                "address" => address = Some(map.next_value::<ServerAddress>()?),
                _ => {
                    options.insert(key, map.next_value::<toml::Value>()?);
                }
            }
        }
        Ok(Server {
            name: name.ok_or_else(|| de::Error::missing_field("name"))?,
            address: address.ok_or_else(|| de::Error::missing_field("address"))?,
            options: from_table(options)?,
            line: SourceLine::default(),
        })
    }
}

/// The keys an `http-request` rule table may have: `action`, `if`, `unless` and the
/// arguments of every action (which ones an action takes is checked by the action's type).
const REQUEST_RULE_KEYS: &[&str] = &[
    "action",
    "if",
    "unless",
    "kind",
    "to",
    "code",
    "drop_query",
    "append_slash",
    "status",
    "name",
    "value",
];

/// The keys an `http-response` rule table may have.
const RESPONSE_RULE_KEYS: &[&str] = &["action", "if", "unless", "name", "value"];

/// A rule table: an action (tagged by `action`) and a condition (`if`, `unless`).
struct RuleVisitor<A>(&'static [&'static str], PhantomData<A>);

impl<'de, Action: for<'a> Deserialize<'a>> Visitor<'de> for RuleVisitor<Action> {
    type Value = (Action, RuleCondition);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rule table with an `action`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut condition = RuleCondition::default();
        let mut action = toml::Table::new();
        while let Some(key) = map.next_key_seed(KnownKey(self.0))? {
            match key.as_str() {
                "if" => condition.if_true = Some(map.next_value()?),
                "unless" => condition.unless = Some(map.next_value()?),
                _ => {
                    action.insert(key, map.next_value::<toml::Value>()?);
                }
            }
        }
        Ok((from_table(action)?, condition))
    }
}

impl<'de> Deserialize<'de> for HttpRequestRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (action, condition) = deserializer.deserialize_map(
            RuleVisitor::<HttpRequestAction>(REQUEST_RULE_KEYS, PhantomData),
        )?;
        Ok(HttpRequestRule {
            action,
            condition,
            line: SourceLine::default(),
        })
    }
}

impl<'de> Deserialize<'de> for HttpResponseRule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (action, condition) = deserializer.deserialize_map(
            RuleVisitor::<HttpResponseAction>(RESPONSE_RULE_KEYS, PhantomData),
        )?;
        Ok(HttpResponseRule {
            action,
            condition,
            line: SourceLine::default(),
        })
    }
}

/// The keys a `balance` table may have: `algorithm` and the arguments of every algorithm.
const BALANCE_KEYS: &[&str] = &[
    "algorithm",
    "len",
    "depth",
    "whole",
    "name",
    "use_domain_only",
    "draws",
];

/// `balance` of a backend or `defaults`: every key is checked as it is read (so that an unknown
/// one is reported at its line), then the table is read as a [`Balance`].
pub(crate) fn balance<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Balance>, D::Error> {
    let table = deserializer.deserialize_map(KeysVisitor(BALANCE_KEYS))?;
    from_table(table).map(Some)
}

/// An algorithm without arguments: the table, the tag taken out, must be empty.
pub(crate) fn no_arguments<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    deserializer.deserialize_map(NoArguments)
}

struct NoArguments;

impl<'de> Visitor<'de> for NoArguments {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no arguments")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        match map.next_key::<String>()? {
            Some(key) => Err(de::Error::unknown_field(&key, &[])),
            None => Ok(()),
        }
    }
}

/// A table whose keys must all be in the list, collected for a second deserialization.
struct KeysVisitor(&'static [&'static str]);

impl<'de> Visitor<'de> for KeysVisitor {
    type Value = toml::Table;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<toml::Table, A::Error> {
        let mut table = toml::Table::new();
        while let Some(key) = map.next_key_seed(KnownKey(self.0))? {
            table.insert(key, map.next_value::<toml::Value>()?);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_options_fields_are_introspected() {
        let keys = server_keys();
        assert!(keys.contains(&"check"), "{keys:?}");
        assert!(keys.contains(&"shutdown-sessions-on-down"), "{keys:?}");
        assert!(keys.contains(&"sni"), "{keys:?}");
    }

    /// Each text's keys are all in `keys`, and it reads as a `T`.
    fn check_rule_keys<T: for<'de> Deserialize<'de>>(texts: &[&str], keys: &[&str]) {
        for text in texts {
            let table: toml::Table = toml::from_str(text).unwrap();
            for key in table.keys() {
                assert!(keys.contains(&key.as_str()), "{key}");
            }
            T::deserialize(toml::Value::Table(table)).unwrap();
        }
    }

    /// Every key of every action is in the rule's key list (the list is what a misspelled key
    /// is checked against).
    #[test]
    fn rule_key_lists_cover_every_action() {
        let request = [
            r#"action = "redirect"
kind = "prefix"
to = "/x"
code = 301
drop_query = true
append_slash = true"#,
            r#"action = "deny"
status = 429"#,
            r#"action = "add-header"
name = "a"
value = "b""#,
            r#"action = "set-header"
name = "a"
value = "b""#,
            r#"action = "del-header"
name = "a""#,
        ];
        check_rule_keys::<HttpRequestRule>(&request, REQUEST_RULE_KEYS);
        // Response rules are the three header actions, the last of the request rules above.
        let response = &request[request.len() - 3..];
        check_rule_keys::<HttpResponseRule>(response, RESPONSE_RULE_KEYS);
    }

    /// Every algorithm written as TOML reads back as itself, its keys are all in
    /// `BALANCE_KEYS`, and an algorithm without arguments refuses one (with serde's message).
    #[test]
    fn balance_round_trips_and_refuses_stray_keys() {
        let all = [
            Balance::Roundrobin,
            Balance::StaticRr,
            Balance::Leastconn,
            Balance::First,
            Balance::Source,
            Balance::Uri {
                len: Some(8),
                depth: Some(2),
                whole: true,
            },
            Balance::UrlParam { name: "u".into() },
            Balance::Hdr {
                name: "Host".into(),
                use_domain_only: true,
            },
            Balance::Random { draws: 3 },
        ];
        for balance in all {
            let table = toml::Table::try_from(&balance).unwrap();
            for key in table.keys() {
                assert!(BALANCE_KEYS.contains(&key.as_str()), "{key}");
            }
            let read: Result<Balance, toml::de::Error> = from_table(table.clone());
            assert_eq!(read.unwrap(), balance);
            if table.len() == 1 {
                let mut stray = table;
                stray.insert("draws".into(), 2.into());
                let error = Balance::deserialize(toml::Value::Table(stray)).unwrap_err();
                assert_eq!(
                    error.message(),
                    "unknown field `draws`, there are no fields",
                    "{balance}"
                );
            }
        }
        let random: Balance = toml::from_str("algorithm = \"random\"").unwrap();
        assert_eq!(random, Balance::Random { draws: 2 });
    }
}
