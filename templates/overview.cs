<?cs include:"header.cs" ?><?cs include:"macros.cs" ?><?cs include:"chart.cs" ?>
<h1>Overview</h1>
<?cs if:User.Role != "tenant_admin" ?><p class="sub">All tenants: these figures are recomputed at most once a minute on each server.</p><?cs /if ?>
<section class="cards">
  <div class="card kpi"><h2>Spend today</h2><p class="num"><?cs var:Totals.DayCost ?></p>
    <?cs if:User.Role == "tenant_admin" && Tenants.0.HasDayBudget ?><?cs call:bar(Tenants.0.DayPct) ?><p class="sub">of <?cs var:Tenants.0.DayBudget ?> daily budget</p><?cs else ?><p class="sub"><?cs var:Totals.DayRequests ?> requests</p><?cs /if ?></div>
  <div class="card kpi"><h2>Spend this month</h2><p class="num"><?cs var:Totals.MonthCost ?></p>
    <?cs if:User.Role == "tenant_admin" && Tenants.0.HasMonthBudget ?><?cs call:bar(Tenants.0.MonthPct) ?><p class="sub">of <?cs var:Tenants.0.MonthBudget ?> monthly budget</p><?cs else ?><p class="sub"><?cs var:Totals.MonthRequests ?> requests</p><?cs /if ?></div>
  <div class="card kpi"><h2>Requests, 24 h</h2><p class="num"><?cs var:Window.Requests ?></p><p class="sub"><?cs var:Window.Refused ?> refused (<?cs var:Window.RefusedRate ?>)</p></div>
  <div class="card kpi"><h2>Error rate, 24 h</h2><p class="num"><?cs var:Window.ErrorRate ?></p><p class="sub"><?cs var:Window.Failed ?> failed</p></div>
  <div class="card kpi"><h2>Latency, 24 h</h2><p class="num"><?cs var:Window.P50 ?></p><p class="sub">p50 · p99 <?cs var:Window.P99 ?></p></div>
</section>
<section class="card charts"><?cs call:chart(Charts.Spend) ?><?cs call:chart(Charts.Calls) ?><?cs call:chart(Charts.Latency) ?></section>

<?cs if:subcount(Alerts) > 0 ?>
<section class="card">
  <h2>Budget alerts</h2>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Tenant</th><th class="r">Today</th><th>Daily budget</th><th class="r">This month</th><th>Monthly budget</th></tr></thead>
    <tbody>
    <?cs each:t = Alerts ?>
    <tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:t.Id ?>/budgets"><?cs var:t.Name ?></a></td>
      <td class="r"><?cs var:t.DayCost ?></td><td><?cs if:t.HasDayBudget ?><?cs call:bar(t.DayPct) ?> <small><?cs var:t.DayPct ?>% of <?cs var:t.DayBudget ?></small><?cs else ?><small>none</small><?cs /if ?></td>
      <td class="r"><?cs var:t.MonthCost ?></td><td><?cs if:t.HasMonthBudget ?><?cs call:bar(t.MonthPct) ?> <small><?cs var:t.MonthPct ?>% of <?cs var:t.MonthBudget ?></small><?cs else ?><small>none</small><?cs /if ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
</section>
<?cs /if ?>

<?cs if:User.Role != "tenant_admin" ?>
<section class="card">
  <h2>Top tenants by spend this month</h2>
  <?cs if:subcount(Tenants) == 0 ?>
  <p class="empty">No tenants yet. <?cs if:User.Role == "operator" ?><a href="<?cs var:Prefix ?>/admin/tenants">Create the first tenant</a>.<?cs /if ?></p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Tenant</th><th class="r hide-sm">Today</th><th class="r">This month</th><th class="r hide-sm">Requests (month)</th><th>Monthly budget</th></tr></thead>
    <tbody>
    <?cs each:t = Tenants ?>
    <tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:t.Id ?>"><?cs var:t.Name ?></a> <small class="muted"><?cs var:t.Slug ?></small></td>
      <td class="r hide-sm"><?cs var:t.DayCost ?></td><td class="r"><?cs var:t.MonthCost ?></td><td class="r hide-sm"><?cs var:t.MonthRequests ?></td>
      <td><?cs if:t.HasMonthBudget ?><?cs call:bar(t.MonthPct) ?> <small><?cs var:t.MonthPct ?>% of <?cs var:t.MonthBudget ?></small><?cs else ?><small class="muted">no budget</small><?cs /if ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <p class="sub"><?cs var:Totals.Tenants ?> tenants in all.</p>
  <?cs /if ?>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
