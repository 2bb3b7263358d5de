//! What a host of the client role does in every test, whatever carries its bytes (memory or TCP).

use wasshd_core::connection::ChannelRequest;
use wasshd_core::{Client, ClientEvent};

pub trait ClientHost {
    fn client(&mut self) -> &mut Client;

    /// The next event other than a log line, moving bytes until there is one.
    fn event(&mut self) -> ClientEvent;

    /// The next event that is not a key exchange or a ready-to-send notice.
    fn significant(&mut self) -> ClientEvent {
        loop {
            match self.event() {
                ClientEvent::KeysExchanged(_) | ClientEvent::ChannelReadyToSend { .. } => {}
                other => return other,
            }
        }
    }

    fn open_session(&mut self) -> u32 {
        let channel = self.client().open_session().unwrap();
        assert_eq!(self.significant(), ClientEvent::ChannelOpened { channel });
        channel
    }

    /// Sends a request that wants a reply, and expects the server to grant it.
    fn request(&mut self, channel: u32, request: ChannelRequest) {
        let name = request.name().to_string();
        self.client().channel_request(channel, &request).unwrap();
        assert_eq!(self.significant(), ClientEvent::ChannelRequestReply { channel, request: name, success: true });
    }
}
