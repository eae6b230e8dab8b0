using System.Globalization;
using System.Text;
using Jint;
using Jint.Native;
using Jint.Native.Error;
using Jint.Native.Object;
using Jint.Runtime;
using Jint.Runtime.Descriptors;
using Jint.Runtime.Interop;

namespace ApprovalStudio.Workflows.Expressions;

/// <summary>
/// Makes one engine's built-ins keep to <see cref="ExpressionLimits.MaxStringLength"/> and
/// <see cref="ExpressionLimits.MaxArrayLength"/> in a single call. Jint checks its memory limit between statements and
/// in some loops of its own, so one call such as <c>'x'.repeat(2**28)</c>, <c>Array(100).fill(s).join('')</c> or
/// <c>JSON.stringify</c> of a big structure allocates without bound before anything notices. Each built-in that can
/// build more than it was given is replaced by a wrapper that works out the size first (or counts while the original
/// builds) and throws a <c>RangeError</c> instead; what expressions never need (binary buffers, typed arrays,
/// <c>ShadowRealm</c>, which has built-ins of its own) is removed.
/// </summary>
internal sealed partial class SandboxBuiltins
{
    private static readonly string[] Removed =
    [
        "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "TypedArray", "Int8Array", "Uint8Array", "Uint8ClampedArray",
        "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float16Array", "Float32Array", "Float64Array",
        "BigInt64Array", "BigUint64Array", "ShadowRealm",
    ];

    private readonly Engine _engine;
    private readonly ErrorConstructor _rangeError;
    private readonly JsValue _object;
    private readonly JsValue _isArray;
    private readonly int _maxString;
    private readonly uint _maxArray;

    private SandboxBuiltins(Engine engine, ExpressionLimits limits)
    {
        _engine = engine;
        _rangeError = (ErrorConstructor)engine.Global.Get("RangeError");
        _object = engine.Global.Get("Object");
        _isArray = engine.Global.Get("Array").Get("isArray");
        _maxString = limits.MaxStringLength;
        _maxArray = (uint)limits.MaxArrayLength;
    }

    /// <summary>Installs the checked built-ins on a fresh <paramref name="engine"/>, before any script runs.</summary>
    public static SandboxBuiltins Install(Engine engine, ExpressionLimits limits)
    {
        var builtins = new SandboxBuiltins(engine, limits);
        foreach (var name in Removed)
        {
            engine.Global.RemoveOwnProperty(name);
        }

        var guard = new ClrFunction(engine, "enumerable", (_, args) =>
        {
            builtins.CheckCharacters(Arg(args, 0), "Copying a string into an object");
            return Arg(args, 0);
        });
        engine.Global.DefineOwnProperty(SandboxSyntax.Guard, new PropertyDescriptor(guard, writable: false, enumerable: false, configurable: false));
        builtins.InstallStrings();
        builtins.InstallRegExps();
        builtins.InstallArrays();
        builtins.InstallObjects();
        builtins.InstallJson();
        builtins.InstallIntl();
        return builtins;
    }

    /// <summary>Replaces the function <paramref name="key"/> of <paramref name="target"/> by <paramref name="wrap"/>(original).</summary>
    private void Wrap(ObjectInstance target, JsValue key, Func<JsValue, Func<JsValue, JsValue[], JsValue>> wrap)
    {
        var original = target.Get(key);
        if (!original.IsCallable())
        {
            throw new InvalidOperationException($"The sandbox expected a built-in function at {key}; has Jint changed?");
        }

        var name = key.IsSymbol() ? $"[{((JsSymbol)key).ToString()[7..^1]}]" : key.ToString();
        var length = (int)TypeConverter.ToNumber(original.Get("length"));
        var function = new ClrFunction(_engine, name, wrap(original), length, PropertyFlag.Configurable);
        target.DefineOwnProperty(key, new PropertyDescriptor(function, writable: true, enumerable: false, configurable: true));
    }

    private ObjectInstance Prototype(string constructor) => _engine.Global.Get(constructor).Get("prototype").AsObject();

    private JavaScriptException TooLong(string what, double length) => new(_rangeError, string.Create(CultureInfo.InvariantCulture,
        $"{what} would build a string of {length:N0} characters; the limit is {_maxString:N0}"));

    private JavaScriptException TooMany(string what, double count) => new(_rangeError, string.Create(CultureInfo.InvariantCulture,
        $"{what} would work on {count:N0} elements; the limit is {_maxArray:N0}"));

    private void CheckLength(string what, double length)
    {
        if (length > _maxString)
        {
            throw TooLong(what, length);
        }
    }

    private static JsValue Arg(JsValue[] args, int index) => index < args.Length ? args[index] : JsValue.Undefined;

    /// <summary>ToObject: Object(value), which wraps a primitive, after the TypeError for undefined and null.</summary>
    private ObjectInstance ToObject(JsValue value)
    {
        if (value is ObjectInstance instance)
        {
            return instance;
        }

        TypeConverter.RequireObjectCoercible(_engine, value);
        return _object.Call(JsValue.Undefined, [value]).AsObject();
    }

    private string ThisString(JsValue thisObj)
    {
        TypeConverter.RequireObjectCoercible(_engine, thisObj);
        return TypeConverter.ToString(thisObj);
    }

    /// <summary>A string built piece by piece that refuses, before appending, a piece that would take it past the limit.</summary>
    private sealed class Builder(SandboxBuiltins owner, string what, long start = 0)
    {
        private readonly StringBuilder _text = new();

        public void Append(string piece)
        {
            if (start + _text.Length + piece.Length > owner._maxString)
            {
                throw owner.TooLong(what, start + (double)_text.Length + piece.Length);
            }

            _text.Append(piece);
        }

        public void Append(char c)
        {
            if (start + _text.Length + 1 > owner._maxString)
            {
                throw owner.TooLong(what, start + (double)_text.Length + 1);
            }

            _text.Append(c);
        }

        public override string ToString() => _text.ToString();
    }
}
