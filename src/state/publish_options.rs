//! The MQTT 5.0 properties a person can attach to a message they publish.

use mqtt_proto::{ByteStr, Property};

/// The publish form's 5.0 fields, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishProperties {
    pub content_type: String,
    pub response_topic: String,
    pub correlation_data: String,
    /// Seconds; empty for none.
    pub message_expiry: String,
    /// One `key=value` (or `key: value`) per line.
    pub user_properties: String,
}

/// `key=value` or `key: value` lines; blank lines are skipped.
pub fn parse_user_properties(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .or_else(|| line.split_once(':'))
                .ok_or_else(|| format!("“{line}” is not key=value"))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(format!("“{line}” has no key"));
            }
            Ok((key.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

impl PublishProperties {
    pub fn is_empty(&self) -> bool {
        *self == PublishProperties::default()
    }

    /// The properties, in the order the specification lists them, or why
    /// they cannot be sent.
    pub fn to_properties(&self) -> Result<Vec<Property>, String> {
        let mut out = Vec::new();
        let expiry = self.message_expiry.trim();
        if !expiry.is_empty() {
            let secs: u32 = expiry
                .parse()
                .map_err(|_| "Message expiry is a whole number of seconds.".to_owned())?;
            out.push(Property::MessageExpiryInterval(secs));
        }
        let content_type = self.content_type.trim();
        if !content_type.is_empty() {
            out.push(Property::ContentType(ByteStr::from(content_type)));
        }
        let response = self.response_topic.trim();
        if !response.is_empty() {
            mqtt_proto::topic::validate_topic_name(response)
                .map_err(|_| "The response topic is a topic name, without + or #.".to_owned())?;
            out.push(Property::ResponseTopic(ByteStr::from(response)));
        }
        if !self.correlation_data.is_empty() {
            out.push(Property::CorrelationData(bytes::Bytes::from(
                self.correlation_data.clone().into_bytes(),
            )));
        }
        for (key, value) in parse_user_properties(&self.user_properties)? {
            out.push(Property::UserProperty(
                ByteStr::from(key.as_str()),
                ByteStr::from(value.as_str()),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_properties_are_key_value_lines() {
        assert_eq!(
            parse_user_properties("site=greenhouse\n\n unit: °C \n"),
            Ok(vec![
                ("site".into(), "greenhouse".into()),
                ("unit".into(), "°C".into())
            ])
        );
        assert!(parse_user_properties("no separator").is_err());
        assert!(parse_user_properties("=value").is_err());
    }

    #[test]
    fn fields_become_properties() {
        let props = PublishProperties {
            content_type: "application/json".into(),
            response_topic: "replies/me".into(),
            correlation_data: "req-7".into(),
            message_expiry: "60".into(),
            user_properties: "site=gh".into(),
        };
        assert_eq!(
            props.to_properties(),
            Ok(vec![
                Property::MessageExpiryInterval(60),
                Property::ContentType("application/json".into()),
                Property::ResponseTopic("replies/me".into()),
                Property::CorrelationData(bytes::Bytes::from_static(b"req-7")),
                Property::UserProperty("site".into(), "gh".into()),
            ])
        );
        assert!(PublishProperties::default().is_empty());
        assert_eq!(PublishProperties::default().to_properties(), Ok(vec![]));
        let bad = PublishProperties {
            message_expiry: "soon".into(),
            ..PublishProperties::default()
        };
        assert!(bad.to_properties().is_err());
        let wildcard = PublishProperties {
            response_topic: "replies/#".into(),
            ..PublishProperties::default()
        };
        assert!(wildcard.to_properties().is_err());
    }
}
