using System.Globalization;
using Jint;
using Jint.Native;
using Jint.Native.Array;
using Jint.Native.Error;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Interop;

namespace ApprovalStudio.Workflows.Expressions;

// JSON.stringify writes the same value as often as it is referenced, indents by depth, and Jint holds its text to
// JsString.MaxLength (~2^29 characters) only: JSON.stringify(Array(100).fill(s)) built 400 MB, a string of control
// characters escaped six-fold 6 GB. The original still does the work, but through a replacer that counts what each
// property will add (key, separators, indentation, the value's own text) and stops it past the limit. The same count
// bounds the host's serialisation of an expression's value.
internal sealed partial class SandboxBuiltins
{
    private JsValue _stringify = JsValue.Undefined;
    private JsValue? _isRawJson;
    private ErrorConstructor? _typeError;
    private JsValue _proxy = JsValue.Undefined;

    private void InstallJson()
    {
        var json = _engine.Global.Get("JSON").AsObject();
        _stringify = json.Get("stringify");
        _isRawJson = json.Get("isRawJSON") is { } isRaw && isRaw.IsCallable() ? isRaw : null;
        _typeError = _engine.Intrinsics.TypeError;
        _proxy = _engine.Global.Get("Proxy");
        Wrap(json, "stringify", _ => (_, args) => Stringify(Arg(args, 0), Arg(args, 1), Arg(args, 2), _maxString, "JSON.stringify"));
    }

    /// <summary>The JSON text of <paramref name="value"/>, or null when it has none (undefined, a function, a symbol).</summary>
    public string? ToJson(JsValue value, int maxLength) =>
        Stringify(value, JsValue.Undefined, JsValue.Undefined, maxLength, "The value as JSON") is JsString text ? text.ToString() : null;

    private JsValue Stringify(JsValue value, JsValue replacer, JsValue space, long max, string what)
    {
        var gap = Gap(space);
        var keys = !replacer.IsCallable() && TypeConverter.ToBoolean(_isArray.Call(JsValue.Undefined, [replacer])) ? PropertyList(replacer.AsObject()) : null;
        var count = new JsonCount(this, what, max, gap.Length, replacer.IsCallable() ? replacer : null, keys);
        return _stringify.Call(JsValue.Undefined, [value, new ClrFunction(_engine, string.Empty, count.Visit, 2), gap.Length > 0 ? gap : JsValue.Undefined]);
    }

    /// <summary>The indentation, as JSON.stringify reads its <c>space</c> argument (https://tc39.es/ecma262/#sec-json.stringify).</summary>
    private static string Gap(JsValue space)
    {
        if (space.IsObject() && space is IJsPrimitive { Type: Types.Number })
        {
            space = JsNumber.Create(TypeConverter.ToNumber(space));
        }
        else if (space.IsObject() && space is IJsPrimitive { Type: Types.String })
        {
            space = TypeConverter.ToString(space);
        }

        if (space.IsNumber())
        {
            var width = Math.Min(10, TypeConverter.ToIntegerOrInfinity(space));
            return width >= 1 ? new string(' ', (int)width) : string.Empty;
        }

        return space.IsString() ? space.AsString() is var text && text.Length > 10 ? text[..10] : text : string.Empty;
    }

    /// <summary>An array replacer's property names, in order, once each (https://tc39.es/ecma262/#sec-json.stringify step 4.b).</summary>
    private List<string> PropertyList(ObjectInstance replacer)
    {
        var length = LengthOf(replacer, "JSON.stringify");
        var keys = new List<string>();
        for (ulong i = 0; i < length; i++)
        {
            var item = replacer.Get(JsNumber.Create((double)i));
            var isName = item.IsString() || item.IsNumber() || item is IJsPrimitive { Type: Types.String or Types.Number };
            if (isName && TypeConverter.ToString(item) is var key && !keys.Contains(key))
            {
                keys.Add(key);
            }
        }

        return keys;
    }

    private static int Quoted(string text)
    {
        var length = 2;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            length += c switch
            {
                '"' or '\\' or '\b' or '\f' or '\n' or '\r' or '\t' => 2,
                < ' ' => 6,
                _ when char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) => 1,
                _ when char.IsSurrogate(c) => 6,
                _ => 1,
            };
        }

        return length;
    }

    /// <summary>
    /// The replacer JSON.stringify runs through: it applies the script's replacer (function, or property list by
    /// handing the serializer a copy with those properties in that order), unwraps Number/String/Boolean/BigInt objects
    /// as the serializer would, and adds what the property will write. The serializer walks depth-first and calls it
    /// before writing each property, so the depth of a holder is known from when it was itself visited.
    /// </summary>
    private sealed class JsonCount(SandboxBuiltins owner, string what, long max, int gap, JsValue? replacer, List<string>? keys)
    {
        private readonly Dictionary<ObjectInstance, int> _depth = new(ReferenceEqualityComparer.Instance);
        private readonly List<(int Depth, ObjectInstance Source)> _copied = [];
        private double _length;
        private bool _root = true;

        public JsValue Visit(JsValue holder, JsValue[] args)
        {
            var key = Arg(args, 0);
            var value = Arg(args, 1);
            if (replacer is not null)
            {
                value = replacer.Call(holder, [key, value]);
            }

            if (value.IsObject() && value is IJsPrimitive { Type: Types.Number or Types.String or Types.Boolean or Types.BigInt } wrapper)
            {
                value = wrapper.Type switch
                {
                    Types.Number => JsNumber.Create(TypeConverter.ToNumber(value)),
                    Types.String => TypeConverter.ToString(value),
                    _ => wrapper.PrimitiveValue,
                };
            }

            var depth = holder is ObjectInstance container && _depth.TryGetValue(container, out var known) ? known : 0;
            var raw = value is ObjectInstance candidate && owner._isRawJson is { } isRaw && TypeConverter.ToBoolean(isRaw.Call(JsValue.Undefined, [candidate]));
            if (keys is not null && value is ObjectInstance source && !raw && !source.IsCallable()
                && !TypeConverter.ToBoolean(owner._isArray.Call(JsValue.Undefined, [source])))
            {
                value = Copy(source, depth);
            }

            double length = 0;
            if (!_root)
            {
                length = 1 + (gap > 0 ? 1 + ((double)gap * depth) : 0) + (holder is ArrayInstance ? 0 : Quoted(key.ToString()) + 1 + (gap > 0 ? 1 : 0));
            }

            _root = false;
            length += value switch
            {
                JsString text => Quoted(text.ToString()),
                JsNumber number when double.IsFinite(number.AsNumber()) => TypeConverter.ToString(number).Length,
                _ when value.IsBoolean() => 5,
                ObjectInstance rawJson when raw => TypeConverter.ToString(rawJson.Get("rawJSON")).Length,
                ObjectInstance node when !node.IsCallable() => Nested(node, depth),
                _ => 4,
            };
            _length += length;
            if (_length > max)
            {
                throw new JavaScriptException(owner._rangeError, string.Create(CultureInfo.InvariantCulture,
                    $"{what} would be longer than {max:N0} characters"));
            }

            return value;
        }

        private int Nested(ObjectInstance node, int depth)
        {
            _depth[node] = depth + 1;
            return 2 + (gap > 0 ? 1 + (gap * depth) : 0);
        }

        /// <summary>
        /// A copy with the listed properties in list order; the serializer cannot see cycles through copies, so this
        /// does. An object lists array-index keys first, so when the list has one the copy is a proxy that lists them
        /// in order.
        /// </summary>
        private ObjectInstance Copy(ObjectInstance source, int depth)
        {
            _copied.RemoveAll(c => c.Depth > depth);
            if (_copied.Exists(c => ReferenceEquals(c.Source, source)))
            {
                throw new JavaScriptException(owner._typeError!, "Cyclic reference detected.");
            }

            _copied.Add((depth + 1, source));
            var copy = new JsObject(owner._engine);
            foreach (var name in keys!)
            {
                copy.CreateDataProperty(name, source.Get(name));
            }

            if (!keys!.Exists(IsIndex))
            {
                return copy;
            }

            var names = keys.Select(k => (JsValue)k).ToArray();
            var handler = new JsObject(owner._engine);
            handler.Set("ownKeys", new ClrFunction(owner._engine, "ownKeys", (_, _) => new JsArray(owner._engine, names)));
            return owner._engine.Construct(owner._proxy, [copy, handler]);
        }

        private static bool IsIndex(string key) =>
            uint.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < uint.MaxValue
            && index.ToString(CultureInfo.InvariantCulture) == key;
    }
}
