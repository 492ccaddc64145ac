// Thunderbird: tags for the smimeguard S/MIME keywords (user.js form).
//
// Copy into the profile directory as user.js (or append to an existing
// one), then restart Thunderbird.  For every user at once, use
// thunderbird-policies.json instead (same preferences).
//
// The server sets the IMAP keywords; Thunderbird shows a keyword as a tag
// only when a tag of that (lower-cased) name is defined.  The ordinal
// decides which tag colours a message row that has several: the lowest
// wins, so a failed signature is red even though the message is also
// $SMIMESigned, and weak cryptography shows before "verified".  The
// ordinals start with "!" so they sort before Thunderbird's own tags
// ($label1..5, ordinal = key), whose colours then never hide a verdict.
//
// keyword          tag name              colour    meaning
// $SMIMEFailed     S/MIME FAILED         red       signature does not verify
// $SMIMEWeak       S/MIME weak crypto    orange    verified/encrypted, but weak
// $SMIMEVerified   S/MIME verified       green     signature verified
// $SMIMEEncrypted  S/MIME encrypted      blue      encrypted message
// $SMIMESigned     S/MIME signed         amber     signed (alone: no verdict)
user_pref("mailnews.tags.$smimefailed.tag", "S/MIME FAILED");
user_pref("mailnews.tags.$smimefailed.color", "#C62828");
user_pref("mailnews.tags.$smimefailed.ordinal", "!1");
user_pref("mailnews.tags.$smimeweak.tag", "S/MIME weak crypto");
user_pref("mailnews.tags.$smimeweak.color", "#EF6C00");
user_pref("mailnews.tags.$smimeweak.ordinal", "!2");
user_pref("mailnews.tags.$smimeverified.tag", "S/MIME verified");
user_pref("mailnews.tags.$smimeverified.color", "#2E7D32");
user_pref("mailnews.tags.$smimeverified.ordinal", "!3");
user_pref("mailnews.tags.$smimeencrypted.tag", "S/MIME encrypted");
user_pref("mailnews.tags.$smimeencrypted.color", "#1565C0");
user_pref("mailnews.tags.$smimeencrypted.ordinal", "!4");
user_pref("mailnews.tags.$smimesigned.tag", "S/MIME signed");
user_pref("mailnews.tags.$smimesigned.color", "#F9A825");
user_pref("mailnews.tags.$smimesigned.ordinal", "!5");
