using System.Text.Json.Nodes;
using ApprovalStudio.Workflows.Expressions;

namespace ApprovalStudio.Workflows.Tests.Expressions;

/// <summary>
/// One call cannot allocate past the sandbox's limits: every way found of building a long string, a long array or a
/// big JSON text in a single built-in call is refused before it allocates, with the evaluator's default limits
/// (8 MB, strings of 1,000,000 characters, arrays of 131,072 elements, values of 1 MiB). Before the checked built-ins,
/// these calls built 33 MB to 21 GB each ('x'.repeat(2**28) 537 MB, Function(...) 21.6 GB, JSON.stringify 6 GB).
/// </summary>
public sealed class SandboxBuiltinsTests
{
    /// <summary>What one refused call may allocate on the test's thread, engine and context included.</summary>
    private const long AllocationBound = 64 * 1024 * 1024;

    private readonly ExpressionEvaluator _evaluator = new();

    [Theory]
    // Strings
    [InlineData("'x'.repeat(2**24)")]
    [InlineData("'x'.repeat(2**24).length")]
    [InlineData("'x'.repeat(2**28)")]
    [InlineData("input.s.repeat(input.n)")]
    [InlineData("'x'.padStart(2**28)")]
    [InlineData("'x'.padEnd(2**28, 'ab')")]
    [InlineData("'x'.repeat(1e6).concat('x'.repeat(1e6)).length")]
    [InlineData("''.concat(...Array(1000).fill('x'.repeat(1e5))).length")]
    [InlineData("'ab'.repeat(1000).replaceAll('a', 'y'.repeat(1e5)).length")]
    [InlineData("('ab'.repeat(1000) + 'c').replace('c', '$`'.repeat(1000)).length")]
    [InlineData("'a'.repeat(1e5).replace(/a/g, 'bbbbbbbbbbbbbbbbbbbb').length")]
    [InlineData("'a'.repeat(1e4).replace(/a/g, '$&'.repeat(1000)).length")]
    [InlineData("'a'.repeat(1e3).replace(/a/g, () => 'b'.repeat(1e5)).length")]
    [InlineData("/a/g[Symbol.replace]('a'.repeat(1e5), 'bbbbbbbbbbbbbbbbbbbb').length")]
    [InlineData("String.raw({raw: Array(100).fill('x'.repeat(1e6))}).length")]
    [InlineData("'x'.anchor('\"'.repeat(1e6)).length")]
    [InlineData("encodeURIComponent('\\u00e9'.repeat(1e6)).length")]
    [InlineData("escape('\\u00e9'.repeat(1e6)).length")]
    [InlineData("'\\ufdfa'.repeat(1e5).normalize('NFKD').length")]
    [InlineData("new Intl.ListFormat('en').format(Array(100).fill('x'.repeat(1e6))).length")]
    [InlineData("(() => { let s = 'x'; for (let i = 0; i < 40; i++) s += s; return s.length })()")]
    [InlineData("Function(...Array(100).fill('a'.repeat(1e6)), '').length")]
    // Joins
    [InlineData("Array(100).fill('x'.repeat(1e6)).join('').length")]
    [InlineData("Array(1e5).join('x'.repeat(1e3)).length")]
    [InlineData("Array.prototype.join.call({length: 1e5}, 'x'.repeat(1e3)).length")]
    [InlineData("String(Array(100).fill('x'.repeat(1e6))).length")]
    [InlineData("`${Array(100).fill('x'.repeat(1e6))}`.length")]
    [InlineData("Array(100).fill('x'.repeat(1e6)).toLocaleString().length")]
    // Arrays
    [InlineData("new Array(2**28).length")]
    [InlineData("Array(2**24).join('x').length")]
    [InlineData("Array.from({length: 1e8}).length")]
    [InlineData("[...Array(2**24)].length")]
    [InlineData("Array.prototype.toSorted.call({length: 2**28}).length")]
    [InlineData("(() => { const a = []; a[2**28] = 1; return a.toReversed().length })()")]
    [InlineData("Array.prototype.with.call({length: 2**28}, 0, 1).length")]
    [InlineData("'x'.repeat(1e6).match(/x/g).length")]
    [InlineData("Object.keys('x'.repeat(1e6)).length")]
    [InlineData("Object.getOwnPropertyDescriptors('x'.repeat(1e6))")]
    [InlineData("[...new Intl.Segmenter().segment('x'.repeat(1e6))].length")]
    [InlineData("Object.getOwnPropertyDescriptors(Array(131072).fill(1)) !== null")]
    // Syntax that copies a string character by character into an object
    [InlineData("({...'x'.repeat(1e6)}) !== null")]
    [InlineData("(() => { for (const k in 'x'.repeat(1e6)) { return k } })()")]
    [InlineData("(() => { const {...r} = new String('x'.repeat(1e6)); return 1 })()")]
    // Binary buffers and typed arrays are not in the sandbox, nor ShadowRealm's unchecked built-ins.
    [InlineData("new ArrayBuffer(2**28).byteLength")]
    [InlineData("new SharedArrayBuffer(2**28).byteLength")]
    [InlineData("new Uint8Array(2**28).length")]
    [InlineData("new Float64Array(2**25).length")]
    [InlineData("new ShadowRealm().evaluate('new ArrayBuffer(2**28).byteLength')")]
    // JSON
    [InlineData("JSON.stringify(Array(100).fill('x'.repeat(1e6))).length")]
    [InlineData("JSON.stringify(Array(100).fill('\\u0001'.repeat(1e5))).length")]
    [InlineData("JSON.stringify({a: Array(1e5).fill({b: 'x'.repeat(100)})}, null, 10).length")]
    [InlineData("(() => { let a = []; for (let i = 0; i < 3000; i++) a = [a]; return JSON.stringify(a, null, 10).length })()")]
    [InlineData("JSON.stringify(Array(100).fill('x'.repeat(1e6)), ['a']).length")]
    // The value itself: a string + another, each within the limit, is 4 MB of JSON
    [InlineData("'x'.repeat(1e6) + 'y'.repeat(1e6)")]
    [InlineData("Array(100).fill('x'.repeat(1e6))")]
    public void One_call_cannot_allocate_past_the_limits(string expression)
    {
        var context = (JsonObject)JsonNode.Parse("""{"input":{"s":"abcd","n":67108864}}""")!;
        GC.Collect();
        var before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<ExpressionException>(() => _evaluator.Evaluate(expression, context));

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationBound, $"{expression} allocated {allocated / 1e6:F1} MB before it failed with: {error.Message}");
        Assert.Equal(expression, error.Expression);
    }

    [Theory]
    [InlineData("'x'.repeat(2**28)", "String.prototype.repeat would build a string of 268,435,456 characters; the limit is 1,000,000")]
    [InlineData("Array(100).fill('x'.repeat(1e6)).join('')", "Array.prototype.join would build a string of 2,000,000 characters; the limit is 1,000,000")]
    [InlineData("Array.prototype.toSorted.call({length: 2**28})", "Array.prototype.toSorted would work on 268,435,456 elements; the limit is 131,072")]
    [InlineData("new Array(2**28)", "The array size 268435456 is larger than maximum allowed (131072)")]
    [InlineData("JSON.stringify(Array(100).fill('x'.repeat(1e6)))", "JSON.stringify would be longer than 1,000,000 characters")]
    [InlineData("'x'.repeat(1e6) + 'y'.repeat(1e6)", "The value as JSON would be longer than 1,048,576 characters")]
    [InlineData("'x'.repeat(999999) + 'é'.repeat(40000)", "The value as JSON is 1,080,001 bytes; the limit is 1,048,576 bytes")]
    public void A_refusal_says_what_would_have_been_built_and_the_limit(string expression, string message)
    {
        var error = Assert.Throws<ExpressionException>(() => _evaluator.Evaluate(expression, []));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_script_can_catch_a_refusal_as_a_RangeError() =>
        Assert.Equal("RangeError", _evaluator.Evaluate("(() => { try { return 'x'.repeat(2**28) } catch (e) { return e.name } })()", [])!.GetValue<string>());

    [Theory]
    [InlineData("(({...rest}) => rest)(input)", false)]
    [InlineData("__sandbox_enumerable__", false)]
    [InlineData("({...input, ok: true})", true)]
    [InlineData("(() => { for (const k in input) { return k } })()", true)]
    public void Object_rest_patterns_and_the_guards_name_are_refused_when_a_definition_is_saved(string expression, bool valid) =>
        Assert.Equal(valid, ExpressionEvaluator.SyntaxError(expression) is null);

    [Fact]
    public void Expressions_cannot_compile_strings() =>
        Assert.Throws<ExpressionException>(() => _evaluator.Evaluate("eval('1 + 1')", []));

    [Fact]
    public void The_limits_follow_the_memory_budget_unless_set()
    {
        var limits = new ExpressionLimits { MaxMemoryBytes = 16_000_000 };

        Assert.Equal((2_000_000, 262_144), (limits.MaxStringLength, limits.MaxArrayLength));
        Assert.Equal(10, (limits with { MaxStringLength = 10 }).MaxStringLength);
    }

    [Fact]
    public void The_limits_are_the_ones_set()
    {
        var small = new ExpressionEvaluator(new ExpressionLimits { MaxStringLength = 10, MaxArrayLength = 5, MaxResultBytes = 20 });

        Assert.Equal("xxxxxxxxxx", small.Evaluate("'x'.repeat(10)", [])!.GetValue<string>());
        Assert.Throws<ExpressionException>(() => small.Evaluate("'x'.repeat(11)", []));
        Assert.Equal(5, small.Evaluate("[1, 2, 3, 4, 5].map(x => x)", [])!.AsArray().Count);
        Assert.Throws<ExpressionException>(() => small.Evaluate("[1, 2, 3, 4, 5, 6].map(x => x)", []));
        Assert.Throws<ExpressionException>(() => small.Evaluate("'123456789'.split('').concat(['a', 'b'])", []));
        Assert.Throws<ExpressionException>(() => small.Evaluate("({a: '1234567890', b: 1})", []));
    }

    [Theory]
    // The checked built-ins answer what the originals answer (a string as its text, anything else as JSON).
    [InlineData("'ab'.repeat(3)", "ababab")]
    [InlineData("'5'.padStart(3, '0') + '5'.padEnd(3) + 'x'.padStart(0) + 'x'.padEnd(4, '')", "0055  xx")]
    [InlineData("'a'.concat('b', 1, null)", "ab1null")]
    [InlineData("'a-b-c'.replaceAll('-', '+') + ' ' + 'a-b-c'.replace('-', '$&$&') + ' ' + 'abc'.replaceAll('', '.')", "a+b+c a--b-c .a.b.c.")]
    [InlineData("'John Smith'.replace(/(\\w+)\\s(\\w+)/, '$2, $1')", "Smith, John")]
    [InlineData("'2026-11-23'.replace(/(?<y>\\d+)-(?<m>\\d+)-(?<d>\\d+)/, '$<d>/$<m>/$<y>')", "23/11/2026")]
    [InlineData("'aaa'.replace(/a/g, (m, i) => i) + 'aXa'.replaceAll('a', (m, i, s) => s.length)", "0123X3")]
    [InlineData("'abc'.replace(/(b)/, '[$0|$1|$01|$10|$&|$`|$\\'|$$|$<x>|$]')", "a[$0|b|b|b0|b|a|c|$|$<x>|$]c")]
    [InlineData("'abc'.replace(/(?<x>b)/, '[$<x>|$<y>|$<x]')", "a[b||$<x]c")]
    [InlineData("'ab'.repeat(1e3).replace(/(a)(b)/g, '$2$1').slice(0, 6)", "bababa")]
    [InlineData("(() => { const r = /b/y; r.lastIndex = 1; return 'ab'.replace(r, '[$`|$\\']') })()", "a[a|]")]
    [InlineData("'abc'.replace({[Symbol.replace]: (s, r) => s + r}, '!') + 'abc'.replace({toString: () => 'b'}, '!')", "abc!a!c")]
    // A regexp with its own exec goes through the counting replacer, which expands templates itself.
    [InlineData("(() => { class R extends RegExp { exec(s) { return super.exec(s) } } return 'abc'.replace(new R('(b)'), '[$0|$1|$01|$10|$&|$`|$\\'|$$|$<x>|$]') })()", "a[$0|b|b|b0|b|a|c|$|$<x>|$]c")]
    [InlineData("'1-2 3-4'.replace(/(?<a>\\d)-(?<b>\\d)/g, '$<b>$<a>$<c>$2')", "212 434")]
    [InlineData("(() => { class R extends RegExp { exec(s) { return super.exec(s) } } return '1-2 3-4'.replace(new R('(?<a>\\\\d)-(?<b>\\\\d)', 'g'), '$<b>$<a>$<c>$2') })()", "212 434")]
    [InlineData("(() => { class R extends RegExp { exec(s) { return super.exec(s) } } return 'aaa'.replace(new R('a', 'g'), (m, i) => i) })()", "012")]
    [InlineData("'a-'.repeat(1e5).replaceAll('-', '$&$&').length", "300000")]
    [InlineData("'x'.repeat(2e5).replace(/x/g, 'yz').length", "400000")]
    [InlineData("'abcabc'.match(/b/g).concat('abc'.match(/z/g) ?? [])", """["b","b"]""")]
    [InlineData("'x---------'.repeat(2e4).match(/x/g).length", "20000")]
    [InlineData("[1, [2, [3]], null, undefined, 'x'].join('-') + ' ' + String([1, [2, 3]]) + ' ' + `${[4, 5]}` + ' ' + [6].toString()", "1-2,3---x 1,2,3 4,5 6")]
    [InlineData("(() => { const a = [1]; a.push(a, 2); return a.join('-') })()", "1--2")]
    [InlineData("[1234.5, 'x'].toLocaleString('en-US')", "1,234.5,x")]
    [InlineData("[[3, 1, 2].toSorted(), [1, 2].toReversed(), [1, 2].with(0, 9), [1, 2, 3].toSpliced(1, 1)]", "[[1,2,3],[2,1],[9,2],[1,3]]")]
    [InlineData("JSON.stringify({b: 1, a: [1, 'x', null, true, undefined, () => 1], c: {d: undefined}, e: NaN})", """{"b":1,"a":[1,"x",null,true,null,null],"c":{},"e":null}""")]
    [InlineData("JSON.stringify({b: 1, a: 2, 1: 3}, ['b', 'a', '1', 'b'])", """{"b":1,"a":2,"1":3}""")]
    [InlineData("JSON.stringify({a: 1, b: {a: 2, c: 3}, c: [{a: 4, c: 5}]}, ['a', 'b', 'c'])", """{"a":1,"b":{"a":2,"c":3},"c":[{"a":4,"c":5}]}""")]
    [InlineData("JSON.stringify({a: {b: [1]}}, null, 2)", "{\n  \"a\": {\n    \"b\": [\n      1\n    ]\n  }\n}")]
    [InlineData("JSON.stringify([new String('ab'), new Number(3), new Boolean(false), JSON.rawJSON('12'), new Date(0)])", """["ab",3,false,12,"1970-01-01T00:00:00.000Z"]""")]
    [InlineData("JSON.stringify({a: 1, b: 'x'}, (k, v) => typeof v === 'number' ? v * 2 : v, new String('\\t'))", "{\n\t\"a\": 2,\n\t\"b\": \"x\"\n}")]
    [InlineData("(() => { const a = {}; a.x = [a]; try { JSON.stringify(a, ['x']) } catch (e) { return e.name } })()", "TypeError")]
    [InlineData("(() => { const a = {}; a.x = a; try { JSON.stringify(a, ['x']) } catch (e) { return e.name } })()", "TypeError")]
    [InlineData("(() => { const a = {}; a.x = a; try { JSON.stringify(a) } catch (e) { return e.name } })()", "TypeError")]
    [InlineData("(() => { const o = {v: 1}; return JSON.stringify({a: o, b: o}, ['a', 'b', 'v']) })()", """{"a":{"v":1},"b":{"v":1}}""")]
    [InlineData("JSON.stringify('\\u0001\"\\ud800')", """ "\u0001\"\ud800" """)]
    [InlineData("encodeURIComponent('a b&é') + ' ' + encodeURI('/a b?x=é') + ' ' + escape('é!')", "a%20b%26%C3%A9 /a%20b?x=%C3%A9 %E9%21")]
    [InlineData("'e\\u0301'.normalize().length + 'ﬁ'.normalize('NFKD').length", "3")]
    [InlineData("new Intl.ListFormat('en', {type: 'conjunction'}).format(['a', 'b', 'c'])", "a, b, and c")]
    [InlineData("new Intl.ListFormat('en').format(new Set(['a', 'b']))", "a and b")]
    [InlineData("[Object.keys('ab'), Object.values('ab'), Object.entries({a: 1}), Object.assign({}, 'ab')]", """[["0","1"],["a","b"],[["a",1]],{"0":"a","1":"b"}]""")]
    [InlineData("String.raw`a\\n${1}b` + String.raw({raw: ['x', 'y', 'z']}, 1)", "a\\n1bx1yz")]
    [InlineData("'x'.anchor('a\"b')", "<a name=\"a&quot;b\">x</a>")]
    [InlineData("[...new Intl.Segmenter('en', {granularity: 'word'}).segment('hi there')].length", "3")]
    [InlineData("({...{a: 1}, ...[2], ...'b', c: 3, ...(null), ...(1 > 0 && {d: 4})})", """{"0":"b","a":1,"c":3,"d":4}""")]
    [InlineData("(() => { const keys = []; for (const k in {x: 1, ...'ab'}) keys.push(k); for (const i in [5]) keys.push(i); return keys })()", """["0","1","x","0"]""")]
    [InlineData("[typeof ArrayBuffer, typeof Uint8Array, typeof ShadowRealm, typeof Atomics]", """["undefined","undefined","undefined","undefined"]""")]
    [InlineData("[String.prototype.repeat.name, String.prototype.repeat.length, RegExp.prototype[Symbol.replace].name, Object.keys(String.prototype).length]", """["repeat",1,"[Symbol.replace]",0]""")]
    public void Everyday_expressions_answer_as_before(string expression, string expected)
    {
        var value = _evaluator.Evaluate(expression, []);

        Assert.Equal(expected.Trim(), value is JsonValue text && text.TryGetValue<string>(out var s) ? s : value?.ToJsonString() ?? "null");
    }
}
