//! PUBACK, PUBREC, PUBREL, PUBCOMP and UNSUBACK: in MQTT 3.1.1 each is only a
//! packet identifier (spec 3.4 to 3.7, 3.11).

use super::wire::Reader;
use crate::Error;

pub fn read(r: &mut Reader) -> Result<u16, Error> {
    r.packet_id()
}
