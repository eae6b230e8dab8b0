using ApprovalStudio.Web.Features.Inbox;
using Bunit;
using Microsoft.AspNetCore.Components;

namespace ApprovalStudio.Web.Tests.Components;

/// <summary>The inbox's filters and sort: native selects that say what they filter on and are live only with the circuit.</summary>
public sealed class InboxToolbarTests : MudTestContext
{
    private static readonly WorkflowChoice[] Workflows = [new("expense", "Expenses"), new("onboarding", "Onboarding")];

    [Fact]
    public void In_the_prerendered_page_the_filters_are_disabled_a_choice_there_would_be_lost()
    {
        SetRendererInfo(new RendererInfo("Static", isInteractive: false));

        var toolbar = Render<InboxToolbar>(p => p.Add(t => t.Filter, new InboxFilter()).Add(t => t.Workflows, Workflows));

        Assert.All(toolbar.FindAll("select, input[type=checkbox], input[type=text]"), control => Assert.True(control.HasAttribute("disabled"), control.OuterHtml));
    }

    [Fact]
    public void A_chosen_kind_workflow_sort_or_overdue_switch_is_sent_as_the_new_filter_and_any_is_none()
    {
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        var sent = new List<InboxFilter>();
        var toolbar = Render<InboxToolbar>(p => p.Add(t => t.Filter, new InboxFilter()).Add(t => t.Workflows, Workflows)
            .Add(t => t.FilterChanged, (InboxFilter f) => sent.Add(f)));

        Assert.Empty(toolbar.FindAll("select[disabled], input[disabled]"));
        Assert.Equal(["Any kind", "Approval", "Form", "Review", "Wait", "Tool call"], toolbar.FindAll("#inbox-kind option").Select(o => o.TextContent));
        Assert.Equal(["Any workflow", "Expenses", "Onboarding"], toolbar.FindAll("#inbox-workflow option").Select(o => o.TextContent));

        toolbar.Find("#inbox-kind").Change("UserForm");
        toolbar.Find("#inbox-workflow").Change("onboarding");
        toolbar.Find("#inbox-sort").Change("Title");
        toolbar.Find("#inbox-sort").Change("not a sort");
        toolbar.Find("input[role=switch]").Change(true);
        toolbar.Find("#inbox-kind").Change("");

        Assert.Equal(
            [new InboxFilter(Kind: "UserForm"), new InboxFilter(Workflow: "onboarding"), new InboxFilter(Sort: InboxSort.Title), new InboxFilter(), new InboxFilter(OverdueOnly: true), new InboxFilter()],
            sent);
    }

    [Fact]
    public void The_search_is_sent_once_typing_stops_and_its_clear_button_empties_the_field_and_the_filter()
    {
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        var sent = new List<InboxFilter>();
        var toolbar = Render<InboxToolbar>(p => p.Add(t => t.Filter, new InboxFilter()).Add(t => t.Workflows, Workflows)
            .Add(t => t.FilterChanged, (InboxFilter f) => { lock (sent) { sent.Add(f); } }));
        Assert.Empty(toolbar.FindAll("button[aria-label='Clear']")); // nothing to clear yet
        Assert.Equal("Search", toolbar.Find("label[for=inbox-search]").TextContent);

        toolbar.Find("#inbox-search").Input("inv");
        toolbar.Find("#inbox-search").Input("invoice");
        Assert.Empty(sent); // still typing: nothing read yet

        // Sent from the debounce's timer to a callback that renders nothing: polled, not waited for by render.
        for (var waited = 0; sent.Count == 0 && waited < 50; waited++)
        {
            Thread.Sleep(100);
        }

        Assert.Equal([new InboxFilter(Search: "invoice")], sent);
        Thread.Sleep(2 * InboxToolbar.SearchDebounce);
        Assert.Single(sent); // the first keystroke's search was dropped, not sent late

        toolbar.Find("button[aria-label='Clear']").Click();
        Assert.Equal(new InboxFilter(), sent[^1]);
        JSInterop.VerifyFocusAsyncInvoke(); // the keyboard stays in the field the button cleared
        Assert.Equal(string.Empty, toolbar.Find("#inbox-search").GetAttribute("value") ?? string.Empty);
        Assert.Empty(toolbar.FindAll("button[aria-label='Clear']"));
    }

    [Fact]
    public void A_search_still_waiting_to_go_out_does_not_undo_the_pages_clear_filters()
    {
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
        var sent = new List<InboxFilter>();
        var toolbar = Render<InboxToolbar>(p => p.Add(t => t.Filter, new InboxFilter(Kind: "Approval")).Add(t => t.Workflows, Workflows)
            .Add(t => t.FilterChanged, (InboxFilter f) => { lock (sent) { sent.Add(f); } }));

        toolbar.Find("#inbox-search").Input("invoice");
        for (var waited = 0; sent.Count == 0 && waited < 50; waited++)
        {
            Thread.Sleep(100);
        }

        toolbar.Render(p => p.Add(t => t.Filter, sent[0])); // the page applies the search
        toolbar.Find("#inbox-search").Input("invoice 2");
        toolbar.Render(p => p.Add(t => t.Filter, new InboxFilter())); // then "Clear filters", within the next debounce
        Thread.Sleep(3 * InboxToolbar.SearchDebounce);

        Assert.Equal([new InboxFilter(Kind: "Approval", Search: "invoice")], sent); // "invoice 2" never went out
        Assert.Equal(string.Empty, toolbar.Find("#inbox-search").GetAttribute("value") ?? string.Empty);
    }
}
