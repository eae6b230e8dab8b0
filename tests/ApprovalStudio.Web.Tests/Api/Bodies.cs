using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>A request body as it goes on the wire: bytes and a content type (null: none); shown as text when a property fails.</summary>
public sealed record Body(byte[] Bytes, string? ContentType)
{
    public static Body Json(string text) => new(Encoding.UTF8.GetBytes(text), "application/json");

    public HttpContent Content()
    {
        var content = new ByteArrayContent(Bytes);
        if (ContentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
        }

        return content;
    }

    public override string ToString()
    {
        var text = Encoding.UTF8.GetString(Bytes);
        return $"[{ContentType ?? "no content type"}, {Bytes.Length} bytes] {(text.Length > 600 ? text[..600] + "…" : text)}";
    }
}

/// <summary>
/// Generators of request bodies for the property tests (CsCheck): random JSON, and mutations of a valid body — properties
/// deleted, renamed, given twice; values of the wrong type or case, huge, empty, unicode, lone surrogates, deep nesting;
/// invalid UTF-8, truncated text, other content types.
/// </summary>
public static class Bodies
{
    private static readonly string[] Atoms = ["Approved", "Rejected", "ok", "é", "日本語", "😀", "עברית", "x\u200by", "a\"b", "c\\d", "<b>", "'q'", "\u0000", "\t"];

    public static readonly Gen<string> Text = Gen.OneOf(Atoms).Array[0, 4].Select(parts => string.Join(" ", parts));

    /// <summary>Names an answer, a request or a Slack payload uses, in the right and the wrong case, and others.</summary>
    public static readonly Gen<string> Name = Gen.Frequency(
        (4, Gen.OneOf(
            "decision", "comment", "acknowledged", "data", "stack", "forEachContext", "parentNodeId", "index", "total", "toolOutputs", "messages",
            "executionId", "streamResponse", "input", "employeeName", "startDate", "salary", "notes", "lookup", "type", "actions", "action_id", "value",
            "user", "id", "response_url", "userId", "Decision", "ACKNOWLEDGED", "", " ", "__proto__", "$ref")),
        (1, Text));

    private static readonly Gen<JsonNode?> Scalar = Gen.Frequency(
        (1, Gen.Const((JsonNode?)null)),
        (2, Gen.Bool.Select(b => (JsonNode?)b)),
        (2, Gen.Int.Select(i => (JsonNode?)i)),
        (1, Gen.Long.Select(l => (JsonNode?)l)),
        (1, Gen.Double.Where(double.IsFinite).Select(d => (JsonNode?)d)),
        (3, Text.Select(s => (JsonNode?)s)),
        (2, Gen.OneOf("Approved", "approved", "APPROVED", "Approved ", "Rejected", "rejected", "true", "1", "2025-01-31", "2025-02-30").Select(s => (JsonNode?)s)));

    /// <summary>Any JSON value, nested up to <paramref name="depth"/> levels.</summary>
    public static Gen<JsonNode?> Value(int depth) => depth == 0 ? Scalar : Gen.Frequency(
        (3, Scalar),
        (1, Value(depth - 1).Array[0, 4].Select(items => (JsonNode?)new JsonArray(items))),
        (2, Gen.Select(Name.ArrayUnique[0, 5], Value(depth - 1).Array[5],
            (names, values) => (JsonNode?)new JsonObject(names.Select((n, i) => KeyValuePair.Create(n, values[i]))))));

    private static readonly string[] ContentTypes =
    [
        "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-8",
        "application/problem+json", "application/vnd.api+json", "application/json; charset=latin1", "*/*", "json", ";;;",
    ];

    private static readonly byte[][] InvalidUtf8 = [[0xFF], [0xC3, 0x28], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82], [0x80]];

    /// <summary>Any body: JSON of any shape (as JSON, with another content type, or none), bytes, nothing.</summary>
    public static readonly Gen<Body> Random = Gen.Frequency(
        (6, Value(3).Select(v => Body.Json(v?.ToJsonString() ?? "null"))),
        (1, Gen.Select(Gen.OneOf(ContentTypes).Null(0.2), Value(2), (type, v) => new Body(Encoding.UTF8.GetBytes(v?.ToJsonString() ?? "null"), type))),
        (1, Gen.Byte.Array[0, 64].Select(bytes => new Body(bytes, "application/json"))),
        (1, Gen.Const(new Body([], "application/json"))));

    /// <summary>Bodies made from <paramref name="valid"/> by one to three changes.</summary>
    public static Gen<Body> Mutated(JsonObject valid) => Change.Array[1, 3].Select(changes => Mutate(valid, changes));

    /// <summary>A change to a body: where (an index into its values, or into its text), what, and with what.</summary>
    private sealed record Edit(EditKind Kind, int Where, int Pick, JsonNode? Replacement);

    private enum EditKind
    {
        Delete,
        Rename,
        Duplicate,
        Add,
        WrongType,
        RawValue,
        OddString,
        Truncate,
        InvalidUtf8,
        ContentType,
    }

    private static readonly Gen<Edit> Change = Gen.Select(Gen.Enum<EditKind>(), Gen.Int[0, 100_000], Gen.Int[0, 1000], Value(2),
        (kind, where, pick, replacement) => new Edit(kind, where, pick, replacement));

    /// <summary>JSON text no <see cref="JsonNode"/> is built from: huge numbers and strings, lone surrogates, deep nesting.</summary>
    private static readonly string[] RawValues =
    [
        "1e400", "-1e400", "1e-400", "-0", "123456789012345678901234567890", "9223372036854775808", "2147483648", "-2147483649",
        "\"\\ud800\"", "\"ok \\udfff\"", "\"\\udc00\\ud800\"", "\"" + new string('x', 100_000) + "\"",
        new string('[', 40) + new string(']', 40), new string('[', 70) + new string(']', 70),
        string.Concat(Enumerable.Repeat("{\"a\":", 30)) + "1" + new string('}', 30), "[" + string.Join(",", Enumerable.Repeat("1", 10_000)) + "]",
    ];

    private static readonly string[] OddStrings =
    [
        "", " ", "approved", "APPROVED", "Approved ", " Approved", "Rejected\u0000", "Approvéd", "true", "null", new string('c', 4001),
        "2025-02-30", "not a date", "\u202e", "😀", "{{input.x}}", "'; DROP TABLE Tasks;--", "../../etc/passwd",
    ];

    private static Body Mutate(JsonObject valid, Edit[] edits)
    {
        var root = valid.DeepClone();
        var raw = new List<(string Marker, string Text)>();
        var contentType = "application/json";
        byte[]? bytes = null;
        foreach (var edit in edits)
        {
            if (edit.Kind == EditKind.ContentType)
            {
                contentType = ContentTypes[edit.Pick % ContentTypes.Length];
                continue;
            }

            if (edit.Kind is EditKind.Truncate or EditKind.InvalidUtf8)
            {
                bytes ??= Encoding.UTF8.GetBytes(Render(root, raw));
                if (edit.Kind == EditKind.Truncate)
                {
                    bytes = bytes[..(edit.Where % (bytes.Length + 1))];
                    continue;
                }

                // Into a string where there is one (just after a quote), else anywhere.
                var quotes = bytes.Select((b, i) => (b, i)).Where(x => x.b == (byte)'"').Select(x => x.i + 1).ToArray();
                var at = quotes.Length > 0 ? quotes[edit.Where % quotes.Length] : edit.Where % (bytes.Length + 1);
                bytes = [.. bytes[..at], .. InvalidUtf8[edit.Pick % InvalidUtf8.Length], .. bytes[at..]];
                continue;
            }

            if (bytes is not null)
            {
                continue; // Changes to the text come last: the tree is gone.
            }

            if (edit.Kind == EditKind.Add && root is JsonObject top)
            {
                top[$"extra{edit.Pick}"] = edit.Replacement?.DeepClone();
                continue;
            }

            var slots = Slots(root).ToList();
            if (slots.Count == 0)
            {
                continue;
            }

            var (parent, name, index) = slots[edit.Where % slots.Count];
            switch (edit.Kind)
            {
                case EditKind.Delete when parent is JsonObject o:
                    o.Remove(name!);
                    break;
                case EditKind.Delete:
                    ((JsonArray)parent).RemoveAt(index);
                    break;
                case EditKind.Rename or EditKind.Duplicate when parent is JsonObject o:
                    // Through a marker, so that the new name may be a sibling's (a duplicate) or a lone surrogate.
                    var marker = $"@@key{raw.Count}@@";
                    var target = edit.Kind == EditKind.Duplicate ? name!
                        : edit.Pick % 4 == 0 ? name!.ToUpperInvariant()
                        : edit.Pick % 4 == 1 ? name + " "
                        : null;
                    raw.Add(($"\"{marker}\"", target is null ? (edit.Pick % 2 == 0 ? "\"\\ud800\"" : "\"x\"") : JsonSerializer.Serialize(target)));
                    var value = o[name!];
                    if (edit.Kind == EditKind.Rename)
                    {
                        var position = o.IndexOf(name!);
                        o.RemoveAt(position);
                        o.Insert(position, marker, value);
                    }
                    else
                    {
                        o[marker] = edit.Replacement?.DeepClone();
                    }

                    break;
                case EditKind.Rename or EditKind.Duplicate or EditKind.Add:
                    var array = (JsonArray)parent;
                    array.Insert(index, array[index]?.DeepClone());
                    break;
                case EditKind.WrongType:
                    Set(parent, name, index, edit.Replacement?.DeepClone());
                    break;
                case EditKind.RawValue:
                    var valueMarker = $"@@value{raw.Count}@@";
                    raw.Add(($"\"{valueMarker}\"", RawValues[edit.Pick % RawValues.Length]));
                    Set(parent, name, index, valueMarker);
                    break;
                case EditKind.OddString:
                    Set(parent, name, index, OddStrings[edit.Pick % OddStrings.Length]);
                    break;
            }
        }

        return new Body(bytes ?? Encoding.UTF8.GetBytes(Render(root, raw)), contentType);
    }

    private static string Render(JsonNode root, List<(string Marker, string Text)> raw) =>
        raw.Aggregate(root.ToJsonString(), (text, r) => text.Replace(r.Marker, r.Text, StringComparison.Ordinal));

    private static void Set(JsonNode parent, string? name, int index, JsonNode? value)
    {
        if (parent is JsonObject o)
        {
            o[name!] = value;
        }
        else
        {
            ((JsonArray)parent)[index] = value;
        }
    }

    private static IEnumerable<(JsonNode Parent, string? Name, int Index)> Slots(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o.ToList())
                {
                    yield return (o, name, -1);
                    foreach (var slot in value is null ? [] : Slots(value))
                    {
                        yield return slot;
                    }
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    yield return (a, null, i);
                    foreach (var slot in a[i] is { } item ? Slots(item) : [])
                    {
                        yield return slot;
                    }
                }

                break;
        }
    }

    /// <summary>
    /// Path parameters: ids with odd characters, unicode, URL-encoded junk, up to about 1,500 characters. Never empty, "." or
    /// ".." (those change which route a path is), and no NUL: Kestrel itself refuses a NUL in a path, and a request line over
    /// 8 KiB, with a bodiless 400 or 414 before the app sees the request.
    /// </summary>
    public static readonly Gen<string> PathParameter = Gen.Frequency(
        (3, Gen.Char.Array[1, 40].Select(chars => new string(chars))),
        (3, Gen.Char["abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"].Array[1, 60].Select(chars => new string(chars))),
        (2, Gen.OneOf("%2F", "%2e%2e", "%25", "%ZZ", "%", "?", "#", "\\", "/", "..%2F", "%C0%AF", "%ED%A0%80", " ", "\u0000", "😀", "'", "\"", "<script>")
            .Array[1, 5].Select(parts => string.Concat(parts))),
        (1, Gen.Int[300, 1500].Select(n => new string('a', n))))
        .Select(Routable);

    /// <summary>
    /// Text as a path segment can carry it to the app: no NUL (Kestrel refuses one in a path with a bodiless 400 before the
    /// app sees the request), and never "." or ".." (the client resolves those to another path).
    /// </summary>
    public static string Routable(string text)
    {
        var routable = text.Replace('\0', '~');
        return routable is "." or ".." ? routable + "x" : routable;
    }

    /// <summary>A path parameter as it goes in a URL: one segment, escaped.</summary>
    public static string Segment(string parameter) => Uri.EscapeDataString(UnpairedSurrogatesReplaced(parameter));

    /// <summary>Uri.EscapeDataString refuses unpaired surrogates, which no URL can carry anyway.</summary>
    private static string UnpairedSurrogatesReplaced(string text)
    {
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(chars[i]))
            {
                chars[i] = '\uFFFD';
            }
        }

        return new string(chars);
    }
}
