//! The few words on the pictures, in each edition's language, or none: flags and numbers
//! are the protocol's own and stay as they are.

/// Which words the pictures carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese.
    #[value(name = "zh-CN")]
    ZhCn,
    /// No words: flags, numbers and the legend's colours only.
    None,
}

/// The words of one language.
pub struct Words {
    pub cable: &'static str,
    pub time: &'static str,
    pub dropped: &'static str,
    pub retransmission: &'static str,
    /// `{}` is the number of segments not drawn.
    pub more: &'static str,
    pub seq: &'static str,
    pub data: &'static str,
    pub ack: &'static str,
    pub window: &'static str,
    pub cwnd: &'static str,
    pub seconds: &'static str,
    pub ladder_title: &'static str,
    pub time_seq_title: &'static str,
}

const EN: Words = Words {
    cable: "cable",
    time: "time",
    dropped: "dropped",
    retransmission: "sent again",
    more: "… and {} more segments (--max to draw more)",
    seq: "sequence number (bytes, relative)",
    data: "data segment",
    ack: "acknowledged up to",
    window: "receive window's edge",
    cwnd: "cwnd (segments)",
    seconds: "time (s)",
    ladder_title: "Ladder diagram of a TCP connection",
    time_seq_title: "Time-sequence graph of a TCP transfer",
};

const ZH: Words = Words {
    cable: "网线",
    time: "时间",
    dropped: "被丢弃",
    retransmission: "重传",
    more: "…… 另有 {} 个报文段未画出（用 --max 画更多）",
    seq: "序列号（字节，相对值）",
    data: "数据报文段",
    ack: "已确认到",
    window: "接收窗口右沿",
    cwnd: "拥塞窗口 cwnd（报文段）",
    seconds: "时间（秒）",
    ladder_title: "TCP 连接的梯形图",
    time_seq_title: "TCP 传输的时间–序列号图",
};

const NONE: Words = Words {
    cable: "",
    time: "",
    dropped: "",
    retransmission: "",
    more: "… +{}",
    seq: "",
    data: "",
    ack: "",
    window: "",
    cwnd: "",
    seconds: "s",
    ladder_title: "TCP",
    time_seq_title: "TCP",
};

impl Lang {
    pub fn words(self) -> &'static Words {
        match self {
            Lang::En => &EN,
            Lang::ZhCn => &ZH,
            Lang::None => &NONE,
        }
    }
}
