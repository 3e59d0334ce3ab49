<?cs include:"header.cs" ?>
<h1>Invoice · <?cs var:Tenant.Name ?></h1>
<form class="toolbar noprint" method="get" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/invoice">
  <label>Month <input name="month" value="<?cs var:Form.Month ?>" placeholder="YYYY-MM" size="7"></label>
  <button type="submit">Show</button>
  <?cs if:!FormError ?><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/invoice.csv?month=<?cs var:url_escape(Form.Month) ?>" download>Download CSV</a>
  <button type="button" data-print>Print</button>
  <small class="muted">Without JavaScript, use your browser's Print command: navigation is hidden on paper.</small><?cs /if ?>
</form>
<?cs if:!FormError ?>
<section class="card invoice">
  <dl class="facts"><dt>Tenant</dt><dd><?cs var:Tenant.Name ?> (id <?cs var:Tenant.Id ?>)</dd><dt>Period</dt><dd><?cs var:Invoice.From ?> – <?cs var:Invoice.To ?> (UTC)</dd></dl>
  <?cs if:subcount(Lines) == 0 ?>
  <p class="empty">No usage in <?cs var:Form.Month ?>: nothing to bill. Pick another month above.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Model</th><th>Agent</th><th class="r">Requests</th><th class="r">Input tokens</th><th class="r">Output tokens</th><th class="r">Cost</th></tr></thead>
    <tbody><?cs each:l = Lines ?><tr><td><?cs var:l.Model ?></td><td><?cs var:l.Agent ?></td><td class="r"><?cs var:l.Requests ?></td><td class="r"><?cs var:l.Prompt ?></td><td class="r"><?cs var:l.Completion ?></td><td class="r"><?cs var:l.Cost ?></td></tr><?cs /each ?></tbody>
    <tfoot>
      <tr><th colspan="2">Subtotal</th><td class="r"><?cs var:Invoice.Requests ?></td><td class="r"><?cs var:Invoice.Prompt ?></td><td class="r"><?cs var:Invoice.Completion ?></td><td class="r"><?cs var:Invoice.Subtotal ?></td></tr>
      <tr><th colspan="5">Total</th><td class="r" id="invoice-total"><?cs var:Invoice.Total ?></td></tr>
    </tfoot>
  </table></div>
  <?cs /if ?>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
