using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Inbox;
using Bunit;
using Microsoft.AspNetCore.Components;

namespace ApprovalStudio.Web.Tests.Components;

public sealed class AnswerComponentsTests : MudTestContext
{
    private static readonly JsonObject Schema = (JsonObject)JsonNode.Parse("""
        {"type":"object","required":["name","start"],"properties":{
          "name":{"type":"string","title":"Full name"},
          "start":{"type":"string","format":"date","title":"Start date"},
          "notes":{"type":"string","maxLength":2000},
          "salary":{"type":"integer","title":"Salary","minimum":0},
          "rate":{"type":"number","title":"Rate"},
          "remote":{"type":"boolean","title":"Remote"},
          "team":{"type":"string","title":"Team","enum":["Red","Blue"]}}}
        """)!;

    [Fact]
    public void A_form_renders_one_labelled_input_per_schema_property_of_the_right_type()
    {
        var form = Render<FormAnswer>(p => p.Add(c => c.Schema, Schema));

        var labels = form.FindAll("label").Select(l => l.TextContent.Trim().TrimEnd('*')).ToList();
        Assert.Superset(new HashSet<string> { "Full name", "Start date", "notes", "Salary", "Rate", "Remote", "Team" }, labels.ToHashSet());
        Assert.Equal("date", InputFor(form, "Start date").GetAttribute("type"));
        Assert.Equal("numeric", InputFor(form, "Salary").GetAttribute("inputmode"));
        Assert.Equal("decimal", InputFor(form, "Rate").GetAttribute("inputmode"));
        Assert.Single(form.FindAll("textarea"));
        Assert.Single(form.FindAll("input[type=checkbox]"));
        Assert.Contains("Submit", form.Find("button").TextContent + string.Join("", form.FindAll("button").Select(b => b.TextContent)));
    }

    [Fact]
    public void A_form_shows_the_servers_errors_at_their_fields()
    {
        var form = Render<FormAnswer>(p => p
            .Add(c => c.Schema, Schema)
            .Add(c => c.Errors, new Dictionary<string, string[]> { ["salary"] = ["Salary must be at least 0."], ["start"] = ["Start date is required."] }));

        var texts = form.FindAll(".mud-input-error").Select(e => e.TextContent.Trim()).ToList();
        Assert.Contains("Salary must be at least 0.", texts);
        Assert.Contains("Start date is required.", texts);
    }

    [Fact]
    public async Task A_form_submits_only_what_was_filled_in_with_json_types()
    {
        JsonObject? submitted = null;
        var form = Render<FormAnswer>(p => p
            .Add(c => c.Schema, Schema)
            .Add(c => c.OnSubmit, EventCallback.Factory.Create<JsonObject>(this, b => submitted = b)));

        InputFor(form, "Salary").Input("42"); // numbers and text update while typing (Immediate), so their limits are checked as the person types
        form.Find("input[type=checkbox]").Change(true);
        await form.InvokeAsync(() => form.FindAll("button").Single(b => b.TextContent.Contains("Submit")).Click());

        Assert.NotNull(submitted);
        Assert.Equal("""{"salary":42,"remote":true}""", submitted!.ToJsonString());
    }

    [Theory]
    [InlineData("Approve", "Approved")]
    [InlineData("Reject", "Rejected")]
    public async Task An_approval_submits_the_decision_and_comment(string button, string decision)
    {
        JsonObject? submitted = null;
        var approval = Render<ApprovalAnswer>(p => p.Add(c => c.OnSubmit, EventCallback.Factory.Create<JsonObject>(this, b => submitted = b)));

        approval.Find("textarea").Change("because");
        await approval.InvokeAsync(() => approval.FindAll("button").Single(b => b.TextContent.Contains(button)).Click());

        Assert.Equal($$"""{"decision":"{{decision}}","comment":"because"}""", submitted!.ToJsonString());
    }

    [Fact]
    public void An_approval_shows_a_comment_error_and_disables_buttons_while_busy()
    {
        var approval = Render<ApprovalAnswer>(p => p
            .Add(c => c.Busy, true)
            .Add(c => c.RequireCommentOnReject, true)
            .Add(c => c.Errors, new Dictionary<string, string[]> { ["comment"] = ["A comment is required when rejecting."] }));

        Assert.Contains("A comment is required when rejecting.", approval.Markup);
        Assert.All(approval.FindAll("button"), b => Assert.True(b.HasAttribute("disabled")));
    }

    [Fact]
    public void An_approval_that_needs_a_comment_on_reject_says_so()
    {
        var approval = Render<ApprovalAnswer>(p => p.Add(c => c.RequireCommentOnReject, true));

        Assert.Contains("Required when rejecting.", approval.Markup);
    }

    /// <summary>The input a label names, as a person (or screen reader) finds it.</summary>
    private static AngleSharp.Dom.IElement InputFor(IRenderedComponent<FormAnswer> form, string label)
    {
        var id = form.FindAll("label").Single(l => l.TextContent.Trim().TrimEnd('*') == label).GetAttribute("for");
        return form.Find($"#{id}");
    }

    [Fact]
    public async Task A_review_acknowledges_with_its_comment()
    {
        JsonObject? submitted = null;
        var review = Render<ReviewAnswer>(p => p.Add(c => c.OnSubmit, EventCallback.Factory.Create<JsonObject>(this, b => submitted = b)));

        await review.InvokeAsync(() => review.Find("button").Click());

        Assert.Equal("""{"acknowledged":true,"comment":null}""", submitted!.ToJsonString());
    }

    [Fact]
    public void Json_context_renders_as_labelled_rows_and_lists()
    {
        var view = Render<JsonView>(p => p.Add(c => c.Value, JsonNode.Parse("""{"amount":12.5,"who":"Jane","tags":["a","b"],"lines":[{"sku":"x"}]}""")));

        Assert.Equal(["amount", "who", "tags", "lines", "sku"], view.FindAll("dt").Select(d => d.TextContent));
        Assert.Contains("a, b", view.Markup);
        Assert.Single(view.FindAll("ol li"));
    }
}
