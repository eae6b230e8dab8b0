using System.Text.Json.Nodes;
using ApprovalStudio.Web.Features.Inbox;

namespace ApprovalStudio.Web.Tests.Components;

/// <summary>The limits a form field checks while a person types, worded as the server words them.</summary>
public sealed class FormFieldTests
{
    private static readonly IReadOnlyList<FormField> Fields = FormField.From((JsonObject)JsonNode.Parse("""
        {"type":"object","required":["item"],"properties":{
          "item":{"type":"string","title":"Item","minLength":3,"maxLength":5},
          "quantity":{"type":"integer","title":"Quantity","minimum":1,"maximum":10},
          "rate":{"type":"number","title":"Rate","maximum":0.5},
          "code":{"type":"string","title":"Cost centre","pattern":"^CC-[0-9]{3}$"},
          "team":{"type":"string","title":"Team","enum":["Red","Blue"]}}}
        """)!);

    private static FormField Field(string name) => Fields.Single(f => f.Name == name);

    [Theory]
    [InlineData("item", "ab", "Item must have at least 3 characters.")]
    [InlineData("item", "abcdef", "Item must have at most 5 characters.")]
    [InlineData("item", "abc", null)]
    [InlineData("code", "x1", "Cost centre does not match the pattern ^CC-[0-9]{3}$.")]
    [InlineData("code", "CC-042", null)]
    [InlineData("team", "Green", "Team must be one of: \"Red\", \"Blue\".")]
    [InlineData("team", "Red", null)]
    public void Text_is_checked_against_length_pattern_and_choices(string field, string value, string? message) =>
        Assert.Equal(message, Field(field).Check(value));

    [Fact]
    public void Numbers_are_checked_against_minimum_and_maximum()
    {
        Assert.Equal("Quantity must be at least 1.", Field("quantity").Check(0L));
        Assert.Equal("Quantity must be at most 10.", Field("quantity").Check(50L));
        Assert.Null(Field("quantity").Check(4L));
        Assert.Equal("Rate must be at most 0.5.", Field("rate").Check(0.75));
    }

    [Fact]
    public void An_empty_value_is_only_a_problem_when_the_field_is_required()
    {
        Assert.Null(Field("item").Check(null));
        Assert.Equal("Item is required.", Field("item").Problem(""));
        Assert.Null(Field("quantity").Problem(null));
    }

    [Theory]
    [InlineData("book", "Book")]
    [InlineData("place_order", "Place order")]
    [InlineData("sendEmail", "Send email")]
    [InlineData("check-budget", "Check budget")]
    public void A_node_id_reads_as_words(string id, string title) => Assert.Equal(title, PlainWords.Humanize(id));
}
