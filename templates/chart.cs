<?cs def:chart(c) ?><figure class="chart"><figcaption><?cs var:c.Title ?><span class="legend"><?cs each:g = c.Legend ?><span class="key <?cs var:g.Cls ?>"><?cs var:g.Label ?></span> <?cs /each ?></span></figcaption>
<svg class="chart" width="<?cs var:c.W ?>" height="<?cs var:c.H ?>" viewBox="0 0 <?cs var:c.W ?> <?cs var:c.H ?>" preserveAspectRatio="xMidYMid meet" role="img" aria-label="<?cs var:c.Title ?>">
<?cs each:y = c.Y ?><line class="gridline" x1="<?cs var:c.X0 ?>" y1="<?cs var:y.Y ?>" x2="<?cs var:c.X1 ?>" y2="<?cs var:y.Y ?>"></line><text class="ylab" x="<?cs var:c.YLabelX ?>" y="<?cs var:y.TextY ?>" text-anchor="end"><?cs var:y.Label ?></text>
<?cs /each ?><?cs each:b = c.Bars ?><rect class="<?cs var:b.Cls ?>" x="<?cs var:b.X ?>" y="<?cs var:b.Y ?>" width="<?cs var:b.W ?>" height="<?cs var:b.H ?>"></rect><?cs /each ?>
<line class="axis" x1="<?cs var:c.X0 ?>" y1="<?cs var:c.Y1 ?>" x2="<?cs var:c.X1 ?>" y2="<?cs var:c.Y1 ?>"></line>
<?cs each:x = c.X ?><text class="xlab" x="<?cs var:x.X ?>" y="<?cs var:c.LabelY ?>" text-anchor="middle"><?cs var:x.Label ?></text><?cs /each ?>
<?cs each:h = c.Hits ?><rect class="hit" x="<?cs var:h.X ?>" y="<?cs var:c.Y0 ?>" width="<?cs var:h.W ?>" height="<?cs var:c.PlotH ?>"><title><?cs var:h.Tip ?></title></rect><?cs /each ?>
</svg></figure><?cs /def ?>
