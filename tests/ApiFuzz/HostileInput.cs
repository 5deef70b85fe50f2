using System.Globalization;
using System.Text;

namespace CrewPlatform.ApiFuzz;

/// <summary>
/// The catalogue of hostile values: each as text (encoded for a query string, a path segment or JSON by the
/// encoders below) or already in its wire form, for tricks that only exist there (%zz, overlong UTF-8, raw tokens).
/// </summary>
public static class HostileInput
{
    public const int LongTextLength = 100 * 1024;

    /// <summary>Text values: numbers at and past the edges of their types, dates at the edges, control characters ...</summary>
    public static readonly string[] Texts =
    [
        "", " ", "0", "-0", "1", "-1", "+1", " 1", "1 ", "1.5", "0x1F", "1e3", "０１", "٣",
        "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
        "18446744073709551616", "1e309", "-1e309", "NaN", "Infinity", "-Infinity", "true", "null",
        "0001-01-01", "9999-12-31", "9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999+00:00", "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-30", "-0001-01-01", "10000-01-01", "2024-02-30",
        "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+99:00", "2024-01-01T00:00:00 02:00", "2024-01-01T00:00:00.123456789Z",
        "-1 days", "now", "P1D", "1700000000", "1970-01-01T00:00:00Z",
        "\0", "a\0b", "\u0001", "\u0007\u001b[31m", "\t\r\n", "\u007f", "\u200b", "\ufeff", "\u202egoal", "\ud800", "\udc00a",
        "\ud83d\ude42", "日本語", "ü", "ß\u0301", "' OR '1'='1", "1; DROP TABLE users--", "<script>alert(1)</script>",
        "${jndi:ldap://x/a}", "{{7*7}}", "%s%n%x", "../../etc/passwd", "..\\..\\windows\\win.ini",
        "00000000-0000-0000-0000-000000000000", "6f1c1f7e-3f53-4a43-9d3c-4a1c7e0b9f0g", "{6f1c1f7e-3f53-4a43-9d3c-4a1c7e0b9f00}",
        "6f1c1f7e3f534a439d3c4a1c7e0b9f00", "start", "stop", "run-now", "RUN-NOW", "start\0",
        new string('a', LongTextLength), new string('9', 1000), "1" + new string('0', 400),
    ];

    /// <summary>Values already percent-encoded, sent as they are: encodings that text cannot express.</summary>
    public static readonly string[] EncodedTricks =
    [
        "%00", "%01", "a%00b", "%0d%0aX-Injected:%201", "%2e%2e%2f", "..%2f..%2fetc%2fpasswd", "%252e%252e%252f", "%25",
        "%c0%af", "%c0%ae%c0%ae%c0%af", "%e0%80%af", "%zz", "%", "%%", "%2", "%ff%fe", "%ed%a0%80", "%f4%90%80%80",
        "%u0000", "+", "%2b", "%20", "a%26b%3Dc", "%E2%80%AE", "%EF%BB%BF1",
    ];

    /// <summary>Path segments (wire form) in the place of an id.</summary>
    public static readonly IReadOnlyList<string> PathSegments =
        EncodedTricks.Where(t => t is not ("+" or "%20"))
            .Concat(Texts.Where(t => t.Length < 2_000 || t[0] == 'a').Select(EncodePathSegment))
            .Concat(
            [
                "..", ".", "..%2f..%2fetc", "%2e%2e", "a/b", "", "1;jsessionid=x", "1%3Bx", "1%23frag", "01", "0001", "1.0",
                new string('1', 10_000), "%7B6f1c1f7e-3f53-4a43-9d3c-4a1c7e0b9f00%7D", "6F1C1F7E-3F53-4A43-9D3C-4A1C7E0B9F00",
            ])
            .Distinct(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// Text for the content search (<c>jsonPath</c>, <c>q</c>) beside <see cref="Texts"/>: paths PostgreSQL refuses to
    /// parse, paths that parse but fail or run long on an answer, web-search syntax at its edges.
    /// </summary>
    public static readonly string[] SearchTexts =
    [
        "exists($.Questions[*] ? (@.Answers[*] like_regex \"price\" flag \"i\"))", "$.score > 3", "$.a", "$", "$$", "$.a[", "$.a)",
        "exists($.a", "@", "@.a", "last", "$ like_regex \"(\"", "$ like_regex \"(a+)+$\"", "$ like_regex \"a\" flag \"z\"",
        "$.**{0 to last} == 1", "$.**{2 to}", "$.n.datetime(\"XYZ\") == 1", "$.n.datetime() < \"2024-01-01\".datetime()",
        "exists($ ? (@ == $x))", "strict $.a.b == 1", "$.n / 0 == 1", "$ ? (@.size() > 1e400)", "$ == \"\\u0000\"",
        "$.\"\\ud800\" == 1", "$.a == \"\\x\"", "$.\"unterminated", "strict lax $", "$.a = 1", "$ && $", "$.keyvalue().key == \"n\"",
        Nested("(", ")", 900).Insert(900, "$") + " == 1", Nested("(", ")", 5_000).Insert(5_000, "$"), "$" + string.Concat(Enumerable.Repeat(".a", 999)),
        "\"unterminated", "-", "or or or", "<->", "!(a & b)", "a:*", "'a' & 'b'", "\\", "&|!():*", "\"\"", "riders -riders",
        string.Join(' ', Enumerable.Repeat("price", 100)), new string('w', 500), new string('w', 501),
    ];

    /// <summary>Search values (wire form).</summary>
    public static readonly IReadOnlyList<string> SearchQueryValues =
        SearchTexts.Select(EncodeQueryComponent).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Search values as JSON strings, for a body field PostgreSQL parses (a webhook's <c>jsonPath</c>).</summary>
    public static readonly IReadOnlyList<string> SearchJsonValues =
        SearchTexts.Select(JsonString).Except(Texts.Select(JsonString), StringComparer.Ordinal).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Query values (wire form).</summary>
    public static readonly IReadOnlyList<string> QueryValues =
        Texts.Select(EncodeQueryComponent).Concat(EncodedTricks).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>JSON values (raw JSON text) for a body field: wrong types, huge numbers, escapes, nesting.</summary>
    public static readonly IReadOnlyList<string> JsonValues =
        Texts.Select(JsonString).Concat(
        [
            "null", "true", "false", "0", "-0", "-1", "1", "1.5", "2147483648", "-2147483649", "9223372036854775808", "1e309",
            "-1e309", "1e-400", "123456789012345678901234567890", "1" + new string('0', 400), "1e1000000", "0.0000001",
            "NaN", "Infinity", "-", "01", ".5", "1.", "+1", "0x10", "\"\\u0000\"", "\"\\ud800\"", "\"\\udc00\\ud800\"",
            "\"a\\u0000b\"", "\"\\uD83D\\uDE42\"", "\"\\uzzzz\"", "\"unterminated", "'single'", "[]", "{}", "[1,2]", "[null]",
            "{\"a\":{\"b\":[]}}", "{\"\\u0000\":1}", "{\"\\ud800\":1}", "{\"\":\"\"}", "[\"\\u0000\"]",
            "[{\"k\":\"\\u0000\"}]", "{\"n\":1e1000000}", "{\"n\":-0}", "{\"n\":1e309}",
            Nested("[", "]", 100), Nested("[", "]", 10_000), NestedObjects(200), "[" + string.Join(',', Enumerable.Range(0, 10_000)) + "]",
        ]).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Whole bodies (UTF-8 unless said): malformed, of the wrong type, deep, huge.</summary>
    public static IEnumerable<(string Case, byte[] Body)> WholeBodies(string validBody)
    {
        static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
        yield return ("empty", []);
        yield return ("null", Utf8("null"));
        yield return ("true", Utf8("true"));
        yield return ("number", Utf8("1"));
        yield return ("string", Utf8("\"start\""));
        yield return ("array", Utf8("[]"));
        yield return ("array of the valid body", Utf8("[" + validBody + "]"));
        yield return ("open brace", Utf8("{"));
        yield return ("close brace", Utf8("}"));
        yield return ("truncated", Utf8(validBody[..(validBody.Length / 2)]));
        yield return ("single quotes", Utf8(validBody.Replace('"', '\'')));
        yield return ("unquoted keys", Utf8("{action:1,userUid:2}"));
        yield return ("trailing comma", Utf8(validBody.TrimEnd('}') + ",}"));
        yield return ("two documents", Utf8(validBody + validBody));
        yield return ("comment", Utf8("// c\n" + validBody));
        yield return ("BOM", [0xEF, 0xBB, 0xBF, .. Utf8(validBody)]);
        yield return ("UTF-16", Encoding.Unicode.GetBytes(validBody));
        yield return ("invalid UTF-8", [0x7B, 0x22, 0xFF, 0xFE, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D]);
        yield return ("overlong UTF-8 in a string", [.. Utf8("{\"userUid\":\""), 0xC0, 0xAF, .. Utf8("\",\"action\":\"start\"}")]);
        yield return ("NUL byte", [0x00]);
        yield return ("NUL inside", [.. Utf8("{\"action\""), 0x00, .. Utf8(":\"start\"}")]);
        yield return ("control characters in a string", Utf8("{\"action\":\"st\u0001art\",\"userUid\":\"a\tb\"}"));
        yield return ("duplicate keys", Utf8("{\"action\":\"start\",\"action\":\"stop\",\"userUid\":\"a\",\"userUid\":\"b\"}"));
        yield return ("deep arrays (10,000)", Utf8(Nested("[", "]", 10_000)));
        yield return ("deep objects (10,000)", Utf8(NestedObjects(10_000)));
        yield return ("deep in a field (10,000)", Utf8(validBody.TrimEnd('}') + ",\"deep\":" + Nested("[", "]", 10_000) + "}"));
        yield return ("huge string field (4 MB)", Utf8(validBody.TrimEnd('}') + ",\"blob\":\"" + new string('x', 4 * 1024 * 1024) + "\"}"));
        yield return ("huge array (3 MB)", Utf8("[" + string.Join(',', Enumerable.Repeat("12345", 500_000)) + "]"));
        yield return ("100,000 keys", Utf8("{" + string.Join(',', Enumerable.Range(0, 100_000).Select(i => $"\"k{i}\":{i}")) + "}"));
        yield return ("100 KB key", Utf8("{\"" + new string('k', LongTextLength) + "\":1}"));
    }

    /// <summary>Content types to send a valid body with (null: no Content-Type header).</summary>
    public static readonly string?[] ContentTypes =
    [
        null, "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/xml", "application/json; charset=utf-16", "application/json; charset=utf-7", "application/json; charset=\"\"",
        "application/json; charset=ibm037", "application/json;;;", "APPLICATION/JSON", "application/json-patch+json", "*/*",
        "application/json; charset=utf-8; charset=latin1", "application", "\u00e9/json",
    ];

    public static string Nested(string open, string close, int depth) =>
        new StringBuilder(depth * (open.Length + close.Length)).Insert(0, open, depth).Insert(depth * open.Length, close, depth).ToString();

    public static string NestedObjects(int depth) =>
        new StringBuilder().Insert(0, "{\"a\":", depth).Append('1').Append('}', depth).ToString();

    /// <summary>A JSON string literal; every character outside printable ASCII escaped, lone surrogates included.</summary>
    public static string JsonString(string text)
    {
        var json = new StringBuilder(text.Length + 2).Append('"');
        foreach (var c in text)
        {
            if (c is >= ' ' and < '\u007f' and not '"' and not '\\')
            {
                json.Append(c);
            }
            else
            {
                json.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
        }

        return json.Append('"').ToString();
    }

    /// <summary>Percent-encodes UTF-8 (a lone surrogate becomes U+FFFD, as a browser would send it).</summary>
    public static string EncodeQueryComponent(string text) => PercentEncode(text, keep: c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~');

    public static string EncodePathSegment(string text) => PercentEncode(text, keep: c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~');

    private static string PercentEncode(string text, Func<char, bool> keep)
    {
        var encoded = new StringBuilder(text.Length);
        foreach (var b in new UTF8Encoding(false, false).GetBytes(text))
        {
            if (b < 0x80 && keep((char)b))
            {
                encoded.Append((char)b);
            }
            else
            {
                encoded.Append(CultureInfo.InvariantCulture, $"%{b:X2}");
            }
        }

        return encoded.ToString();
    }
}
