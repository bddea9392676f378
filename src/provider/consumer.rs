//! Consumer mail domains whose provider needs no look-up. Each row is one provider's domains as one source
//! lists them; the MX look-up still catches any domain missing here (a missing row costs one DoH query, a
//! wrong row a wrong provider, so rows stay conservative: only domains a source names).
//!
//! Not here on purpose: Yahoo Japan's domains (yahoo.co.jp, ymail.ne.jp): Yahoo licenses the brand to
//! another company, which runs its own mail (Spam Resource, "Reference: MAGY", 2021); their MX groups them
//! under `other:yahoo.co.jp`.

use super::Platform::{self, *};

/// One provider's consumer domains, as `source` lists them.
#[derive(Debug)]
pub struct DomainRow {
    pub platform: Platform,
    /// Lower-case ASCII, as the adapters store recipient domains.
    pub domains: &'static [&'static str],
    pub source: &'static str,
}

pub const CONSUMER_DOMAINS: &[DomainRow] = &[
    DomainRow {
        platform: Google,
        domains: &["gmail.com", "googlemail.com"],
        // Country forms such as gmail.com.br hold no mailboxes ("just gmail.com and googlemail.com").
        source: "https://www.suped.com/email-deliverability/answers/is-gmailcombr-or-other-country-extensions-valid-email-addresses",
    },
    DomainRow {
        platform: Microsoft,
        domains: &[
            "hotmail.com", "live.com", "msn.com", "outlook.com", "windowslive.com", "hotmail.co.uk", "hotmail.at",
            "hotmail.ca", "hotmail.co.il", "hotmail.com.ar", "hotmail.com.au", "hotmail.com.br", "hotmail.com.tr",
            "hotmail.de", "hotmail.dk", "hotmail.es", "hotmail.fr", "hotmail.it", "hotmail.se", "live.at", "live.ca",
        ],
        source: "https://knowledge.validity.com/hc/en-us/articles/224887947-Microsoft-Outlook-com-and-Hotmail-overview",
    },
    DomainRow {
        platform: Microsoft,
        // Country variants of outlook.*/live.*/hotmail.* whose MX is Microsoft's consumer edge
        // (*.olc.protection.outlook.com), the method of Spam Resource's MAGY list.
        domains: &[
            "outlook.fr", "outlook.de", "outlook.es", "outlook.it", "outlook.be", "outlook.jp", "outlook.com.au",
            "outlook.com.br", "live.co.uk", "live.fr", "live.de", "live.it", "live.nl", "live.be", "live.com.au",
            "live.com.mx", "hotmail.be", "hotmail.nl", "hotmail.co.jp",
        ],
        source: "https://www.spamresource.com/2021/09/reference-magy-microsoft-aol-gmail.html",
    },
    DomainRow {
        platform: Yahoo,
        domains: &[
            "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es", "yahoo.ca", "yahoo.com.au",
            "yahoo.com.br", "yahoo.com.mx", "yahoo.co.in", "yahoo.in", "ymail.com", "rocketmail.com", "myyahoo.com",
        ],
        source: "https://help.returnpath.com/hc/en-us/articles/224751567-Yahoo-overview",
    },
    DomainRow {
        platform: Yahoo,
        // AOL's domains, filtered by Yahoo since February 2018 (same source as above).
        domains: &["aol.com", "aim.com", "aol.co.uk", "aol.fr", "aol.de", "love.com", "wow.com", "games.com", "netscape.net", "cs.com"],
        source: "https://help.returnpath.com/hc/en-us/articles/224751567-Yahoo-overview",
    },
    DomainRow {
        platform: Yahoo,
        // verizon.net's MX moved to AOL's platform on 20 June 2017, and AOL's to Yahoo's in 2018.
        domains: &["verizon.net"],
        source: "https://wordtothewise.com/2017/06/final-migration-verizon-email-addresses-aol",
    },
    DomainRow {
        platform: Apple,
        domains: &["icloud.com", "me.com", "mac.com"],
        source: "https://support.apple.com/en-vn/118230",
    },
    DomainRow {
        platform: Comcast,
        domains: &["comcast.net"],
        source: "https://spa.xfinity.com/postmaster",
    },
    DomainRow {
        platform: Att,
        // AT&T's legacy ISP domains; AT&T runs its own postmaster and block-removal process for them.
        domains: &[
            "att.net", "sbcglobal.net", "bellsouth.net", "pacbell.net", "ameritech.net", "swbell.net", "snet.net",
            "flash.net", "prodigy.net", "nvbell.net", "wans.net",
        ],
        source: "http://www.att.com/esupport/postmaster/",
    },
    DomainRow {
        platform: Gmx,
        domains: &[
            "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com", "gmx.co.uk", "gmx.es", "gmx.eu", "gmx.fr", "gmx.info",
            "gmx.it", "gmx.li", "gmx.org", "gmx.se", "gmx.us", "gmx.biz", "gmx.tm", "web.de", "mail.com", "usa.com",
        ],
        source: "https://smtp.codes/unitedinternet/",
    },
    DomainRow {
        platform: Orange,
        // "Orange/Wanadoo Email users".
        domains: &["orange.fr", "wanadoo.fr"],
        source: "https://postmaster.orange.fr",
    },
    DomainRow {
        platform: TOnline,
        domains: &["t-online.de", "magenta.de"],
        source: "https://postmaster.t-online.de",
    },
    DomainRow {
        platform: MailRu,
        // "standard domain names: mail.ru, bk.ru, inbox.ru, list.ru or internet.ru" (VK's press service).
        domains: &["mail.ru", "bk.ru", "inbox.ru", "list.ru", "internet.ru"],
        source: "https://redaktor.az/news/tech/211948-mailru-yeni-domen-istifadeye-verdi",
    },
    DomainRow {
        platform: Yandex,
        domains: &["yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua"],
        source: "http://eng.therunet.com/en/news/812/",
    },
    DomainRow {
        platform: Zoho,
        domains: &["zoho.com", "zohomail.com"],
        source: "https://www.zoho.com/mail/",
    },
    DomainRow {
        platform: Qq,
        domains: &["qq.com", "vip.qq.com", "foxmail.com"],
        source: "https://knowledge.validity.com/hc/en-us/articles/220562127-Tencent-QQMail-overview",
    },
    DomainRow {
        platform: Netease,
        domains: &["163.com", "126.com", "yeah.net", "188.com", "vip.163.com", "vip.126.com"],
        source: "http://163yunyou.com/newsitem/597.html",
    },
    DomainRow {
        platform: Libero,
        domains: &["libero.it", "virgilio.it", "iol.it", "inwind.it", "blu.it"],
        source: "https://info.libero.it/contratti/libero-mail-personal",
    },
    DomainRow {
        platform: FreeFr,
        domains: &["free.fr"],
        source: "https://www.free.fr/assistance/",
    },
    DomainRow {
        platform: Seznam,
        domains: &["seznam.cz", "email.cz", "post.cz"],
        source: "https://napoveda.seznam.cz/cz/email/",
    },
    DomainRow {
        platform: Naver,
        domains: &["naver.com"],
        source: "https://mail.naver.com",
    },
];

/// The provider of a consumer domain (lower-case ASCII, as stored), if the table has it.
pub fn consumer_platform(domain: &str) -> Option<Platform> {
    CONSUMER_DOMAINS.iter().find(|row| row.domains.contains(&domain)).map(|row| row.platform)
}
