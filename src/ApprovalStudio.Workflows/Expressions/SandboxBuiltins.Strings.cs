using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Native.Symbol;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace ApprovalStudio.Workflows.Expressions;

// The string built-ins whose result can be longer than what they were given: each one's size is known (or bounded)
// before the original runs, or the original builds through a replacer that counts.
internal sealed partial class SandboxBuiltins
{
    private void InstallStrings()
    {
        var proto = Prototype("String");
        Wrap(proto, "repeat", original => (thisObj, args) =>
        {
            var text = ThisString(thisObj);
            var count = TypeConverter.ToIntegerOrInfinity(Arg(args, 0));
            if (count > 0 && !double.IsInfinity(count))
            {
                CheckLength("String.prototype.repeat", text.Length * count);
            }

            return original.Call(text, [count]);
        });
        Wrap(proto, "padStart", original => (thisObj, args) => Pad(original, "String.prototype.padStart", thisObj, args));
        Wrap(proto, "padEnd", original => (thisObj, args) => Pad(original, "String.prototype.padEnd", thisObj, args));
        Wrap(proto, "concat", original => (thisObj, args) =>
        {
            var text = ThisString(thisObj);
            var parts = new JsValue[args.Length];
            double length = text.Length;
            for (var i = 0; i < args.Length; i++)
            {
                var part = TypeConverter.ToString(args[i]);
                length += part.Length;
                CheckLength("String.prototype.concat", length);
                parts[i] = part;
            }

            return original.Call(text, parts);
        });
        Wrap(proto, "replace", original => (thisObj, args) => ReplaceString(original, thisObj, args, all: false));
        Wrap(proto, "replaceAll", original => (thisObj, args) => ReplaceString(original, thisObj, args, all: true));
        Wrap(proto, "normalize", original => (thisObj, args) =>
        {
            var text = ThisString(thisObj);
            var form = Arg(args, 0).IsUndefined() ? "NFC" : TypeConverter.ToString(Arg(args, 0));
            // NFC and NFD can make a character three, NFKC and NFKD eighteen (U+FDFA). Text already in the form comes back as it is.
            var (factor, normalization) = form switch
            {
                "NFC" => (3, NormalizationForm.FormC),
                "NFD" => (3, NormalizationForm.FormD),
                "NFKC" => (18, NormalizationForm.FormKC),
                "NFKD" => (18, NormalizationForm.FormKD),
                _ => (1, NormalizationForm.FormC),
            };
            if ((double)text.Length * factor > _maxString && !text.IsNormalized(normalization))
            {
                throw TooLong(string.Create(CultureInfo.InvariantCulture, $"String.prototype.normalize('{form}') of a string of {text.Length:N0} characters"),
                    (double)text.Length * factor);
            }

            return original.Call(text, [form]);
        });
        foreach (var html in new[] { "anchor", "fontcolor", "fontsize", "link" })
        {
            // Annex B: <tag attribute="value">text</tag>, each '"' of the value written as &quot;.
            Wrap(proto, html, original => (thisObj, args) =>
            {
                var text = ThisString(thisObj);
                var value = TypeConverter.ToString(Arg(args, 0));
                CheckLength($"String.prototype.{html}", text.Length + value.Length + 5.0 * value.Count(c => c == '"') + 32);
                return original.Call(text, [value]);
            });
        }

        var strings = _engine.Global.Get("String").AsObject();
        Wrap(strings, "raw", _ => (_, args) => Raw(args));

        // Percent-encoding: at most 3 characters for an ASCII one, 6 for one below U+0800, 12 for a surrogate pair, 9 otherwise.
        Wrap(_engine.Global, "encodeURI", original => (_, args) => Encode(original, "encodeURI", args, EncodedLength));
        Wrap(_engine.Global, "encodeURIComponent", original => (_, args) => Encode(original, "encodeURIComponent", args, EncodedLength));
        Wrap(_engine.Global, "escape", original => (_, args) => Encode(original, "escape", args, c => c < 256 ? 3 : 6));
        var regExp = _engine.Global.Get("RegExp").AsObject();
        if (regExp.HasProperty("escape"))
        {
            Wrap(regExp, "escape", original => (_, args) => Encode(original, "RegExp.escape", args, _ => 6));
        }
    }

    private static int EncodedLength(char c) => c switch
    {
        < (char)0x80 => 3,
        < (char)0x800 => 6,
        _ when char.IsSurrogate(c) => 6,
        _ => 9,
    };

    private JsValue Pad(JsValue original, string what, JsValue thisObj, JsValue[] args)
    {
        var text = ThisString(thisObj);
        var length = TypeConverter.ToLength(Arg(args, 0));
        if (length <= (ulong)text.Length)
        {
            return text;
        }

        var filler = Arg(args, 1).IsUndefined() ? " " : TypeConverter.ToString(Arg(args, 1));
        if (filler.Length > 0)
        {
            CheckLength(what, length);
        }

        return original.Call(text, [length, filler]);
    }

    /// <summary>Letters and digits stay as they are; every other character counts at its worst (RegExp.escape writes a leading letter as \xHH).</summary>
    private JsValue Encode(JsValue original, string what, JsValue[] args, Func<char, int> worst)
    {
        var text = TypeConverter.ToString(Arg(args, 0));
        double length = 3;
        foreach (var c in text)
        {
            length += char.IsAsciiLetterOrDigit(c) ? 1 : worst(c);
        }

        CheckLength(what, length);
        return original.Call(JsValue.Undefined, [text]);
    }

    /// <summary>String.raw, with every piece checked before it is appended (https://tc39.es/ecma262/#sec-string.raw).</summary>
    private JsValue Raw(JsValue[] args)
    {
        var cooked = ToObject(Arg(args, 0));
        var literals = ToObject(cooked.Get("raw"));
        var count = TypeConverter.ToLength(literals.Get("length"));
        var text = new Builder(this, "String.raw");
        for (ulong i = 0; i < count; i++)
        {
            text.Append(TypeConverter.ToString(literals.Get(JsNumber.Create((double)i))));
            if (i + 1 == count)
            {
                break;
            }

            if (i + 1 < (ulong)args.Length)
            {
                text.Append(TypeConverter.ToString(args[(int)i + 1]));
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// String.prototype.replace/replaceAll. A search value with a <c>Symbol.replace</c> (a RegExp) is left to the
    /// original, which calls it, and the RegExp one is checked too. For a string search the result's length is worked
    /// out exactly from the occurrences; with a replacer function the original builds through a replacer that counts.
    /// </summary>
    private JsValue ReplaceString(JsValue original, JsValue thisObj, JsValue[] args, bool all)
    {
        TypeConverter.RequireObjectCoercible(_engine, thisObj);
        var searchValue = Arg(args, 0);
        var replaceValue = Arg(args, 1);
        if (searchValue.IsObject() && searchValue.Get(GlobalSymbolRegistry.Replace) is var method && !method.IsUndefined() && !method.IsNull())
        {
            return original.Call(thisObj, args);
        }

        var text = TypeConverter.ToString(thisObj);
        var search = TypeConverter.ToString(searchValue);
        var what = all ? "String.prototype.replaceAll" : "String.prototype.replace";
        if (replaceValue.IsCallable())
        {
            return original.Call(text, [search, CountingReplacer(what, text.Length, replaceValue, null)]);
        }

        var replacement = TypeConverter.ToString(replaceValue);
        var length = ReplacedLength(text, search, Shape.Of(replacement, groups: 0, named: false), all);
        if (length > _maxString)
        {
            throw TooLong(what, length);
        }

        return original.Call(text, [search, replacement]);
    }

    /// <summary>The exact length of a string search's result: each occurrence is replaced by the template's expansion there.</summary>
    private static double ReplacedLength(string text, string search, Shape shape, bool all)
    {
        double length = text.Length;
        var step = Math.Max(1, search.Length);
        for (var at = text.IndexOf(search, StringComparison.Ordinal); at >= 0; at = at + step > text.Length ? -1 : text.IndexOf(search, at + step, StringComparison.Ordinal))
        {
            length += shape.Longest(search.Length, at, text.Length) - search.Length;
            if (!all)
            {
                break;
            }
        }

        return length;
    }

    /// <summary>
    /// At most the length of a regexp replace's result, from the built-in regexp's own matches, found without
    /// allocating: every match, global or not (a superset of what the replace takes), and for a sticky regexp, which
    /// starts at lastIndex, one more anywhere. A capture is at most as long as its match.
    /// </summary>
    private static double ReplacedLength(JsRegExp regExp, Regex regex, string text, string template)
    {
        // The .NET regex has at least the JavaScript groups (Acornima wraps named groups in one more).
        var named = regex.GetGroupNames().Any(name => !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        var shape = Shape.Of(template, regex.GetGroupNumbers().Length - 1, named);
        double n = text.Length;
        var length = n + (regExp.Sticky ? shape.Worst(n) : 0);
        foreach (var match in regex.EnumerateMatches(text))
        {
            length += shape.Longest(match.Length, match.Index, n) - match.Length;
        }

        return length;
    }

    /// <summary>
    /// What a replacement template expands to (https://tc39.es/ecma262/#sec-getsubstitution), given how many groups
    /// the regexp may have (none for a string search) and whether any is named: characters written as they are, and
    /// how many times it writes the match, the text before it, the text after it, a named group, and <c>$n</c> or
    /// <c>$nn</c>, each either a capture or, when the regexp has fewer groups, the characters themselves.
    /// </summary>
    private readonly record struct Shape(int Literal, int Match, int Before, int After, int Named, int OneDigit, int TwoDigits)
    {
        /// <summary>The longest expansion at a match of <paramref name="length"/> characters at <paramref name="index"/>.</summary>
        public double Longest(double length, double index, double text) =>
            Literal + ((Match + Named) * length) + (Before * index) + (After * Math.Max(0, text - index - length))
            + (OneDigit * Math.Max(2, length)) + (TwoDigits * Math.Max(3, length + 1));

        /// <summary>The longest expansion at any match in a text of <paramref name="text"/> characters.</summary>
        public double Worst(double text) =>
            Literal + ((Match + Named + Before + After) * text) + (OneDigit * Math.Max(2, text)) + (TwoDigits * Math.Max(3, text + 1));

        public static Shape Of(string template, int groups, bool named)
        {
            var shape = default(Shape);
            for (var i = 0; i < template.Length; i++)
            {
                var next = template[i] == '$' && i + 1 < template.Length ? template[i + 1] : '\0';
                switch (next)
                {
                    case '$':
                        shape = shape with { Literal = shape.Literal + 1 };
                        i++;
                        break;
                    case '&':
                        shape = shape with { Match = shape.Match + 1 };
                        i++;
                        break;
                    case '`':
                        shape = shape with { Before = shape.Before + 1 };
                        i++;
                        break;
                    case '\'':
                        shape = shape with { After = shape.After + 1 };
                        i++;
                        break;
                    case >= '0' and <= '9':
                        var digits = i + 2 < template.Length && char.IsAsciiDigit(template[i + 2]) ? 2 : 1;
                        var index = digits == 2 ? ((next - '0') * 10) + template[i + 2] - '0' : next - '0';
                        if (index > groups && digits == 2)
                        {
                            (digits, index) = (1, next - '0');
                        }

                        shape = (index >= 1 && index <= groups, digits) switch
                        {
                            (false, _) => shape with { Literal = shape.Literal + 1 + digits },
                            (true, 1) => shape with { OneDigit = shape.OneDigit + 1 },
                            _ => shape with { TwoDigits = shape.TwoDigits + 1 },
                        };
                        i += digits;
                        break;
                    case '<' when named && template.IndexOf('>', i + 2) is var close and > 0:
                        shape = shape with { Named = shape.Named + 1 };
                        i = close;
                        break;
                    default:
                        shape = shape with { Literal = shape.Literal + 1 };
                        break;
                }
            }

            return shape;
        }
    }

    private void InstallRegExps()
    {
        var proto = Prototype("RegExp");
        var exec = proto.Get("exec");
        Wrap(proto, GlobalSymbolRegistry.Replace, original => (thisObj, args) =>
        {
            if (!thisObj.IsObject())
            {
                return original.Call(thisObj, args);
            }

            var text = TypeConverter.ToString(Arg(args, 0));
            var replaceValue = Arg(args, 1);
            const string What = "RegExp.prototype[Symbol.replace]";
            if (replaceValue.IsCallable())
            {
                return original.Call(thisObj, [text, CountingReplacer(What, text.Length, replaceValue, null)]);
            }

            var replacement = TypeConverter.ToString(replaceValue);
            if (thisObj is not JsRegExp { Value: { } regex } || !ReferenceEquals(thisObj.Get("exec"), exec))
            {
                // Another exec may answer anything, as often as it likes: count what the replacements build.
                return original.Call(thisObj, [text, CountingReplacer(What, text.Length, JsValue.Undefined, replacement)]);
            }

            var length = ReplacedLength((JsRegExp)thisObj, regex, text, replacement);
            if (length > _maxString)
            {
                throw TooLong(What, length);
            }

            return original.Call(thisObj, [text, replacement]);
        });

        // A global match collects every match before Jint checks MaxArraySize (about 240 bytes each). Past the
        // limit the built-in regexp counts its matches first, without allocating; another exec is run here, one match at a time.
        Wrap(proto, GlobalSymbolRegistry.Match, original => (thisObj, args) =>
        {
            var text = TypeConverter.ToString(Arg(args, 0));
            if ((ulong)text.Length + 1 <= _maxArray || !thisObj.IsObject())
            {
                return original.Call(thisObj, [text]);
            }

            var flags = TypeConverter.ToString(thisObj.Get("flags"));
            if (!flags.Contains('g', StringComparison.Ordinal))
            {
                return original.Call(thisObj, [text]);
            }

            if (thisObj is JsRegExp { Value: { } regex } && ReferenceEquals(thisObj.Get("exec"), exec))
            {
                var count = 0;
                foreach (var _ in regex.EnumerateMatches(text))
                {
                    if (++count > _maxArray)
                    {
                        throw TooMany("RegExp.prototype[Symbol.match]", count);
                    }
                }

                return original.Call(thisObj, [text]);
            }

            return MatchAll(thisObj.AsObject(), text, flags.Contains('u', StringComparison.Ordinal) || flags.Contains('v', StringComparison.Ordinal), exec);
        });
    }

    /// <summary>RegExp.prototype[Symbol.match] for a global regexp (https://tc39.es/ecma262/#sec-regexp.prototype-@@match), at most MaxArrayLength matches.</summary>
    private JsValue MatchAll(ObjectInstance regExp, string text, bool fullUnicode, JsValue builtinExec)
    {
        regExp.Set("lastIndex", 0, true);
        var matches = new List<JsValue>();
        while (true)
        {
            var exec = regExp.Get("exec");
            var result = (exec.IsCallable() ? exec : builtinExec).Call(regExp, [text]);
            if (result.IsNull())
            {
                return matches.Count == 0 ? JsValue.Null : new JsArray(_engine, [.. matches]);
            }

            if (matches.Count >= _maxArray)
            {
                throw TooMany("RegExp.prototype[Symbol.match]", matches.Count + 1);
            }

            var match = TypeConverter.ToString(result.Get("0"));
            matches.Add(match);
            if (match.Length == 0)
            {
                var index = TypeConverter.ToLength(regExp.Get("lastIndex"));
                var next = fullUnicode && index + 1 < (ulong)text.Length && char.IsSurrogatePair(text[(int)index], text[(int)index + 1]) ? index + 2 : index + 1;
                regExp.Set("lastIndex", (double)next, true);
            }
        }
    }

    /// <summary>
    /// A replacer function for the original replace built-ins that keeps count of the result they build: it calls
    /// <paramref name="function"/> or expands the <paramref name="template"/> (GetSubstitution) itself, and refuses a
    /// replacement that would take the result past the limit before it is made.
    /// </summary>
    private ClrFunction CountingReplacer(string what, int textLength, JsValue function, string? template)
    {
        double length = textLength;
        return new ClrFunction(_engine, string.Empty, (_, args) =>
        {
            var matched = TypeConverter.ToString(Arg(args, 0));
            string replacement;
            if (template is null)
            {
                replacement = TypeConverter.ToString(function.Call(JsValue.Undefined, args));
                CheckLength(what, length + replacement.Length - matched.Length);
            }
            else
            {
                replacement = Substitute(what, length - matched.Length, template, matched, args);
            }

            length += replacement.Length - matched.Length;
            return replacement;
        });
    }

    /// <summary>
    /// GetSubstitution (https://tc39.es/ecma262/#sec-getsubstitution) from a replacer's arguments: the match, the
    /// captures, the position, the string and, when the regexp has named groups, the groups object.
    /// </summary>
    private string Substitute(string what, double before, string template, string matched, JsValue[] args)
    {
        var named = args.Length >= 3 && !args[^1].IsString() ? args[^1] : JsValue.Undefined;
        var tail = named.IsUndefined() ? 0 : 1;
        var subject = args.Length >= 3 ? TypeConverter.ToString(args[^(1 + tail)]) : string.Empty;
        var position = args.Length >= 3 ? (int)Math.Clamp(TypeConverter.ToIntegerOrInfinity(args[^(2 + tail)]), 0, subject.Length) : 0;
        var captures = args.Length >= 3 ? args[1..^(2 + tail)] : [];
        var groups = named.IsUndefined() ? null : ToObject(named);
        var after = Math.Min(position + matched.Length, subject.Length);
        var result = new Builder(this, what, (long)Math.Max(0, before));
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c != '$' || i + 1 == template.Length)
            {
                result.Append(c);
                continue;
            }

            var next = template[i + 1];
            switch (next)
            {
                case '$':
                    result.Append('$');
                    i++;
                    break;
                case '&':
                    result.Append(matched);
                    i++;
                    break;
                case '`':
                    result.Append(subject[..position]);
                    i++;
                    break;
                case '\'':
                    result.Append(subject[after..]);
                    i++;
                    break;
                case >= '0' and <= '9':
                    var digits = i + 2 < template.Length && char.IsAsciiDigit(template[i + 2]) ? 2 : 1;
                    var index = digits == 2 ? ((next - '0') * 10) + template[i + 2] - '0' : next - '0';
                    if (index > captures.Length && digits == 2)
                    {
                        (digits, index) = (1, next - '0');
                    }

                    if (index >= 1 && index <= captures.Length)
                    {
                        if (!captures[index - 1].IsUndefined())
                        {
                            result.Append(TypeConverter.ToString(captures[index - 1]));
                        }
                    }
                    else
                    {
                        result.Append(template.Substring(i, 1 + digits));
                    }

                    i += digits;
                    break;
                case '<':
                    var close = template.IndexOf('>', i + 2);
                    if (groups is null || close < 0)
                    {
                        result.Append("$<");
                        i++;
                        break;
                    }

                    var capture = groups.Get(template[(i + 2)..close]);
                    if (!capture.IsUndefined())
                    {
                        result.Append(TypeConverter.ToString(capture));
                    }

                    i = close;
                    break;
                default:
                    result.Append('$');
                    break;
            }
        }

        return result.ToString();
    }
}
