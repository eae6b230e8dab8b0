using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Native.Symbol;
using Jint.Runtime;

namespace ApprovalStudio.Workflows.Expressions;

// Arrays: Constraints.MaxArraySize bounds the arrays Jint creates from a count, and its loops check time and memory
// as they go, except in four methods. toSorted, toReversed and with copy a receiver made long by an index
// (a[2**28] = 1) or an array-like ({length: 2**28}) whole before looking at it (2 GB each), and concat walks every
// hole of one (a[2**32-2] = 1 ran for minutes). These refuse an array longer than the limit; join and its callers
// build through a checked builder.
internal sealed partial class SandboxBuiltins
{
    private readonly HashSet<ObjectInstance> _joining = new(ReferenceEqualityComparer.Instance);

    private void InstallArrays()
    {
        var proto = Prototype("Array");
        foreach (var name in new[] { "toSorted", "toReversed", "with" })
        {
            Wrap(proto, name, original => (thisObj, args) =>
            {
                LengthOf(thisObj, $"Array.prototype.{name}");
                return original.Call(thisObj, args);
            });
        }

        Wrap(proto, "concat", original => (thisObj, args) =>
        {
            // https://tc39.es/ecma262/#sec-array.prototype.concat: the receiver and every argument that spreads.
            var count = 0.0;
            foreach (var item in args.Prepend(thisObj))
            {
                count += Spreads(item) ? LengthOf(item, "Array.prototype.concat") : 1;
                if (count > _maxArray)
                {
                    throw TooMany("Array.prototype.concat", count);
                }
            }

            return original.Call(thisObj, args);
        });
        Wrap(proto, "join", _ => (thisObj, args) => Join(thisObj, Arg(args, 0), locale: null));
        Wrap(proto, "toLocaleString", _ => (thisObj, args) => Join(thisObj, JsValue.Undefined, locale: args));
        var objectToString = Prototype("Object").Get("toString");
        Wrap(proto, "toString", _ => (thisObj, _) =>
        {
            // https://tc39.es/ecma262/#sec-array.prototype.tostring: this.join(), or Object.prototype.toString when join is not a function.
            var array = ToObject(thisObj);
            var join = array.Get("join");
            return (join.IsCallable() ? join : objectToString).Call(array, []);
        });
    }

    /// <summary>IsConcatSpreadable: Symbol.isConcatSpreadable when set, else whether it is an array.</summary>
    private bool Spreads(JsValue value)
    {
        if (!value.IsObject())
        {
            return false;
        }

        var spreadable = value.Get(GlobalSymbolRegistry.IsConcatSpreadable);
        return spreadable.IsUndefined() ? TypeConverter.ToBoolean(_isArray.Call(JsValue.Undefined, [value])) : TypeConverter.ToBoolean(spreadable);
    }

    private ulong LengthOf(JsValue thisObj, string what)
    {
        if (!thisObj.IsObject())
        {
            return 0;
        }

        var length = TypeConverter.ToLength(thisObj.Get("length"));
        if (length > _maxArray)
        {
            throw TooMany(what, length);
        }

        return length;
    }

    /// <summary>
    /// Array.prototype.join (https://tc39.es/ecma262/#sec-array.prototype.join), or toLocaleString when
    /// <paramref name="locale"/> holds its arguments. An array met again inside itself reads as empty, as in Jint.
    /// </summary>
    private JsValue Join(JsValue thisObj, JsValue separator, JsValue[]? locale)
    {
        var what = locale is null ? "Array.prototype.join" : "Array.prototype.toLocaleString";
        var array = ToObject(thisObj);
        var length = LengthOf(array, what);
        var between = separator.IsUndefined() ? "," : TypeConverter.ToString(separator);
        if (!_joining.Add(array))
        {
            return JsString.Empty;
        }

        try
        {
            var text = new Builder(this, what);
            for (ulong i = 0; i < length; i++)
            {
                if (i > 0)
                {
                    text.Append(between);
                }

                var element = array.Get(JsNumber.Create((double)i));
                if (element.IsNull() || element.IsUndefined())
                {
                    continue;
                }

                text.Append(locale is null
                    ? TypeConverter.ToString(element)
                    : TypeConverter.ToString(ToObject(element).Get("toLocaleString").Call(element, locale)));
            }

            return text.ToString();
        }
        finally
        {
            _joining.Remove(array);
        }
    }
}
