//! Changing a frame in flight: one bit flipped, after its checksum is completed so that the
//! receiver's check sees the flip and drops it.

use super::fate::VNET_HDR;

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum is still to be computed.
const NEEDS_CSUM: u8 = 1;

/// Flips one bit of the last byte of `frame` (virtio-net header first), bit `draw % 8`. A frame
/// whose checksum is left to the hardware has it computed first, and is marked as unchecked, so
/// the receiving kernel verifies it; a segmentation-offload burst is left alone (a corrupting
/// link carries packets one by one).
pub(crate) fn corrupt(frame: &mut [u8], draw: u64) {
    if frame.len() <= VNET_HDR + 14 || frame[1] != 0 {
        return;
    }
    if frame[0] & NEEDS_CSUM != 0 {
        let start = usize::from(u16::from_le_bytes([frame[6], frame[7]]));
        let offset = usize::from(u16::from_le_bytes([frame[8], frame[9]]));
        let packet = &mut frame[VNET_HDR..];
        if start + offset + 2 <= packet.len() {
            // The field holds the pseudo-header's sum: summing over it finishes the checksum.
            let sum = !fold(checksum_sum(&packet[start..]));
            packet[start + offset..start + offset + 2].copy_from_slice(&sum.to_be_bytes());
        }
    }
    frame[0] = 0;
    let last = frame.len() - 1;
    frame[last] ^= 1 << (draw % 8);
}

/// The ones'-complement sum of `bytes` as 16-bit big-endian words, unfolded.
fn checksum_sum(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completed_checksum_verifies_until_the_flip() {
        // A virtio header asking for a checksum over bytes 10.. of a 20-byte packet, at offset 2.
        let mut frame = vec![0u8; VNET_HDR + 20];
        frame[0] = NEEDS_CSUM;
        frame[6..8].copy_from_slice(&10u16.to_le_bytes());
        frame[8..10].copy_from_slice(&2u16.to_le_bytes());
        for (i, b) in frame[VNET_HDR + 10..].iter_mut().enumerate() {
            *b = i as u8 * 7;
        }
        frame[VNET_HDR + 12..VNET_HDR + 14].copy_from_slice(&0x1234u16.to_be_bytes());
        let mut complete = frame.clone();
        corrupt(&mut complete, 0);
        assert_eq!(complete[0], 0, "no longer left to the hardware");
        // The receiver sums the region and the pseudo-header (the field's old value): all ones
        // when the checksum is right, which it is until the flip.
        let verify = |f: &[u8]| fold(checksum_sum(&f[VNET_HDR + 10..]) + 0x1234) == 0xffff;
        let last = complete.len() - 1;
        assert!(!verify(&complete));
        complete[last] ^= 1;
        assert!(verify(&complete));
    }
}
