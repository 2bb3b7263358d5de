//! Message numbers (RFC 4250 §4.1) and disconnect reason codes (RFC 4250 §4.2.2).

pub const DISCONNECT: u8 = 1;
pub const IGNORE: u8 = 2;
pub const UNIMPLEMENTED: u8 = 3;
pub const DEBUG: u8 = 4;
pub const SERVICE_REQUEST: u8 = 5;
pub const SERVICE_ACCEPT: u8 = 6;
pub const EXT_INFO: u8 = 7;
pub const KEXINIT: u8 = 20;
pub const NEWKEYS: u8 = 21;
pub const KEX_ECDH_INIT: u8 = 30;
pub const KEX_ECDH_REPLY: u8 = 31;
/// RFC 4419 §5: group exchange reuses 31 for the server's group.
pub const KEX_DH_GEX_GROUP: u8 = 31;
pub const KEX_DH_GEX_INIT: u8 = 32;
pub const KEX_DH_GEX_REPLY: u8 = 33;
pub const KEX_DH_GEX_REQUEST: u8 = 34;
pub const USERAUTH_REQUEST: u8 = 50;
pub const USERAUTH_FAILURE: u8 = 51;
pub const USERAUTH_SUCCESS: u8 = 52;
pub const USERAUTH_BANNER: u8 = 53;
/// Shared by publickey (`PK_OK`) and keyboard-interactive (`INFO_REQUEST`): the method in progress says which.
pub const USERAUTH_PK_OK: u8 = 60;
pub const USERAUTH_INFO_REQUEST: u8 = 60;
pub const USERAUTH_INFO_RESPONSE: u8 = 61;
pub const GLOBAL_REQUEST: u8 = 80;
pub const REQUEST_SUCCESS: u8 = 81;
pub const REQUEST_FAILURE: u8 = 82;
pub const CHANNEL_OPEN: u8 = 90;
pub const CHANNEL_OPEN_CONFIRMATION: u8 = 91;
pub const CHANNEL_OPEN_FAILURE: u8 = 92;
pub const CHANNEL_WINDOW_ADJUST: u8 = 93;
pub const CHANNEL_DATA: u8 = 94;
pub const CHANNEL_EXTENDED_DATA: u8 = 95;
pub const CHANNEL_EOF: u8 = 96;
pub const CHANNEL_CLOSE: u8 = 97;
pub const CHANNEL_REQUEST: u8 = 98;
pub const CHANNEL_SUCCESS: u8 = 99;
pub const CHANNEL_FAILURE: u8 = 100;

/// Messages a party may send while a key exchange is in progress (RFC 4253 §7.1): the generic transport
/// messages and the key exchange messages, 1..=49 less the service messages.
pub fn allowed_during_kex(msg: u8) -> bool {
    matches!(msg, 1..=4 | 7..=49)
}

/// Why a connection was closed, as sent in SSH_MSG_DISCONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum DisconnectReason {
    HostNotAllowedToConnect = 1,
    ProtocolError = 2,
    KeyExchangeFailed = 3,
    MacError = 5,
    CompressionError = 6,
    ServiceNotAvailable = 7,
    ProtocolVersionNotSupported = 8,
    HostKeyNotVerifiable = 9,
    ConnectionLost = 10,
    ByApplication = 11,
    TooManyConnections = 12,
    AuthCancelledByUser = 13,
    NoMoreAuthMethodsAvailable = 14,
    IllegalUserName = 15,
}

impl DisconnectReason {
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The reason for a code a peer or the host sent; unknown codes count as `ByApplication`.
    pub fn from_code(code: u32) -> Self {
        use DisconnectReason::*;
        match code {
            1 => HostNotAllowedToConnect,
            2 => ProtocolError,
            3 => KeyExchangeFailed,
            5 => MacError,
            6 => CompressionError,
            7 => ServiceNotAvailable,
            8 => ProtocolVersionNotSupported,
            9 => HostKeyNotVerifiable,
            10 => ConnectionLost,
            12 => TooManyConnections,
            13 => AuthCancelledByUser,
            14 => NoMoreAuthMethodsAvailable,
            15 => IllegalUserName,
            _ => ByApplication,
        }
    }
}
