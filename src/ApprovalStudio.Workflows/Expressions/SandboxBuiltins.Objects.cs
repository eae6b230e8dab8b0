using System.Globalization;
using Jint;
using Jint.Native;
using Jint.Native.Object;
using Jint.Runtime;

namespace ApprovalStudio.Workflows.Expressions;

// A string seen as an object has a property per character, and Jint lists them all (about 80 bytes each) before it
// checks MaxArraySize: Object.keys of a 4M-character string allocated 343 MB, getOwnPropertyDescriptors 3.3 GB.
// These refuse a string longer than MaxArrayLength at once (and SandboxSyntax sends object spreads and for-in here). Intl: ListFormat joins a list of strings, Segmenter lists
// every segment of its text up front.
internal sealed partial class SandboxBuiltins
{
    private void InstallObjects()
    {
        var objects = _engine.Global.Get("Object").AsObject();
        foreach (var name in new[] { "keys", "values", "entries", "getOwnPropertyNames", "getOwnPropertyDescriptors", "assign" })
        {
            Wrap(objects, name, original => (thisObj, args) =>
            {
                foreach (var arg in name == "assign" ? args.Skip(1) : args.Take(1))
                {
                    CheckCharacters(arg, $"Object.{name}");
                }

                // A descriptor object per property, about 870 bytes each: an eighth of the elements.
                if (name == "getOwnPropertyDescriptors" && Arg(args, 0) is ObjectInstance target
                    && target.GetOwnPropertyKeys(Types.String).Count is var count && count > _maxArray / 8)
                {
                    throw new JavaScriptException(_rangeError, string.Create(CultureInfo.InvariantCulture,
                        $"Object.getOwnPropertyDescriptors would describe {count:N0} properties; the limit is {_maxArray / 8:N0}"));
                }

                return original.Call(thisObj, args);
            });
        }

        Wrap(_engine.Global.Get("Reflect").AsObject(), "ownKeys", original => (thisObj, args) =>
        {
            CheckCharacters(Arg(args, 0), "Reflect.ownKeys");
            return original.Call(thisObj, args);
        });
    }

    private void CheckCharacters(JsValue value, string what)
    {
        var characters = value switch
        {
            JsString text => text.Length,
            IJsPrimitive { Type: Types.String } wrapper => ((JsString)wrapper.PrimitiveValue).Length,
            _ => 0,
        };
        if ((uint)characters > _maxArray)
        {
            throw TooMany(what, characters);
        }
    }

    private void InstallIntl()
    {
        var intl = _engine.Global.Get("Intl");
        if (!intl.IsObject())
        {
            return;
        }

        if (intl.Get("ListFormat").IsObject())
        {
            var listFormat = intl.Get("ListFormat").Get("prototype").AsObject();
            var from = _engine.Global.Get("Array").Get("from");
            foreach (var name in new[] { "format", "formatToParts" })
            {
                Wrap(listFormat, name, original => (thisObj, args) =>
                {
                    // The list once, as an array (bounded by MaxArraySize); each separator at most 16 characters in any locale.
                    var list = Arg(args, 0);
                    if (list.IsUndefined())
                    {
                        return original.Call(thisObj, args);
                    }

                    var array = from.Call(JsValue.Undefined, [list]);
                    var count = TypeConverter.ToLength(array.Get("length"));
                    double length = 0;
                    for (ulong i = 0; i < count; i++)
                    {
                        var item = array.Get(JsNumber.Create((double)i));
                        length += (item is JsString text ? text.Length : 0) + 16;
                    }

                    CheckLength($"Intl.ListFormat.prototype.{name}", length);
                    return original.Call(thisObj, [array]);
                });
            }
        }

        if (intl.Get("Segmenter").IsObject())
        {
            Wrap(intl.Get("Segmenter").Get("prototype").AsObject(), "segment", original => (thisObj, args) =>
            {
                var text = TypeConverter.ToString(Arg(args, 0));
                if ((uint)text.Length > _maxArray)
                {
                    throw TooMany("Intl.Segmenter.prototype.segment", text.Length);
                }

                return original.Call(thisObj, [text]);
            });
        }
    }
}
