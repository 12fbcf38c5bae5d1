"""Texts that stress the featurizer: edge cases of Unicode, size and obfuscation."""

ADVERSARIAL_TEXTS: list[str] = [
    "",
    " ",
    "   \t\n  ",
    "\u00a0\u2003\u3000",  # no-break, em and ideographic spaces
    "x" * 20_480,  # a 20 KB comment
    ("You are a complete idiot and everyone knows it. " * 430)[:20_480],
    "😀😂🤬 you 🤡",
    "👩‍👩‍👧 family emoji with zero-width joiners",
    "日本語のコメントです。ばか",
    "中文评论：你是个白痴",
    "Это постановка, никто не погиб",
    "Ти брешеш, це все фейк",
    "e\u0301cole, cafe\u0301, n\u0303",  # combining accents
    "école, café, ñ",  # precomposed
    "Z̷̢̛a̴l̸g̶o̵ text",
    "&amp; &lt;b&gt;bold&lt;/b&gt; &#128514; &quot;quoted&quot;",
    "zero\u200bwidth\u200cjoin\u200dhere\ufeff soft\u00adhyphen",
    "MiXeD CaSe YoU IdIoT",
    "ＦＵＬＬＷＩＤＴＨ ｓｈｏｕｔｉｎｇ",
    "𝐟𝐮𝐜𝐤 𝓲𝓭𝓲𝓸𝓽",  # mathematical alphanumerics
    "f*ck you, sh*t, a$$hole",
    "1diot, h3ll0, n00b, 2020 and 1945",
    "s h i t, f u c k   y o u",
    "stuuuuuupid!!!!!! sooooo dumb",
    "sh!t f|ck @ss $hit",
    "іdіot with Cyrillic і and о",
    "'quoted' “curly” ‘single’ — dashes – here…",
    "a",
    "1",
    "!!!",
    "\t",
    "مرحبا بالعالم أنت غبي",
    "नमस्ते दुनिया",
    "Ελληνικά κείμενο",
    "Control\x00chars\x07and\x1bescapes",
    "\U0001f600" * 500,
]
